#!/usr/bin/env bash
# One-command, idempotent set-up for wardwatch on Debian/Ubuntu.
# Installs: apt packages, a project-local venv holding ONNX Runtime (only to supply
# libonnxruntime.so to ort's load-dynamic), the demo clip, and checks the model hash.
# Also cargo-deb (pinned, crates.io) for `make deb`.
# When everything is present it finishes in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run as root or install sudo"
  SUDO="sudo"
fi

# 1. apt packages ------------------------------------------------------------
APT_PKGS="libopencv-dev libopencv-contrib-dev fonts-dejavu-core libclang-dev clang pkg-config mosquitto mosquitto-clients openssl python3-venv ca-certificates chromium systemd dpkg-dev"
missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing apt packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 1b. Node.js and playwright-core for the web console's browser test (tests/browser/),
#     driving the chromium above. A node that is already there (e.g. NodeSource's, which
#     bundles npm) is kept; Debian's nodejs and npm are installed only when none is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
PW_WANT=$(node -p 'require("./tests/browser/package.json").dependencies["playwright-core"]')
PW_HAVE=$(node -p 'try { require("./tests/browser/node_modules/playwright-core/package.json").version } catch { "" }')
if [ "$PW_WANT" != "$PW_HAVE" ]; then
  say "installing playwright-core $PW_WANT (tests/browser, from npm)"
  npm ci --prefix tests/browser --no-audit --no-fund --silent >/dev/null
fi

# 2. ONNX Runtime shared library, from PyPI's onnxruntime wheel ---------------
ORT_VERSION=1.32.0
ORT_LIB=$(ls "$ROOT"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION 2>/dev/null | head -n1 || true)
if [ -z "$ORT_LIB" ]; then
  say "creating .venv with onnxruntime==$ORT_VERSION"
  python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check "onnxruntime==$ORT_VERSION"
  ORT_LIB=$(ls "$ROOT"/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION | head -n1)
fi
ln -sf "$ORT_LIB" "$ROOT/.venv/libonnxruntime.so"

# 2b. Jinja2 in the same venv: tests/homeassistant.rs renders the Home Assistant discovery
#     templates with it, as Home Assistant does (tests/support/ha_render.py).
JINJA_VERSION=3.1.6
if ! "$ROOT/.venv/bin/python" -c "import jinja2, sys; sys.exit(jinja2.__version__ != '$JINJA_VERSION')" 2>/dev/null; then
  say "installing jinja2==$JINJA_VERSION into .venv (for the Home Assistant discovery test)"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check "jinja2==$JINJA_VERSION" "markupsafe==3.0.3"
fi

# 2c. Home Assistant 2024.3.3 (PyPI) in its own venv .venv-ha, for tests/homeassistant_real.rs
#     (tools/homeassistant/). requirements.txt pins every package, resolved with HA's
#     package_constraints.txt, so HA can run with --skip-pip. Reinstalled when HA's version
#     or requirements.txt (copied into the venv) differ. From scratch about 1–1½ minutes
#     (downloads included) and about 710 MB of disk.
HA_VERSION=2024.3.3
HA_REQS="$ROOT/tools/homeassistant/requirements.txt"
if ! "$ROOT/.venv-ha/bin/python" -c "import homeassistant.const as c; assert c.__version__ == '$HA_VERSION'" 2>/dev/null \
   || ! cmp -s "$HA_REQS" "$ROOT/.venv-ha/requirements.txt"; then
  python3 -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' \
    || die "Home Assistant $HA_VERSION (.venv-ha, tools/homeassistant/requirements.txt) needs Python 3.11 or 3.12, python3 is $(python3 -V 2>&1): install one of those as python3"
  say "creating .venv-ha with homeassistant==$HA_VERSION (PyPI; for the real Home Assistant test)"
  python3 -m venv --clear "$ROOT/.venv-ha"
  "$ROOT/.venv-ha/bin/pip" install -q --disable-pip-version-check -r "$HA_REQS"
  cp "$HA_REQS" "$ROOT/.venv-ha/requirements.txt"
fi

# 3. Demo footage: only vtest.avi out of Debian's opencv-doc ------------------
VTEST="$ROOT/data/vtest.avi"
VTEST_SHA=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
if [ ! -f "$VTEST" ] || ! echo "$VTEST_SHA  $VTEST" | sha256sum -c --status; then
  say "fetching vtest.avi from Debian's opencv-doc package"
  mkdir -p "$ROOT/data"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq opencv-doc 2>/dev/null) || { $SUDO apt-get update -qq; (cd "$tmp" && apt-get download -qq opencv-doc); }
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
  mv "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$VTEST"
  rm -rf "$tmp"
  echo "$VTEST_SHA  $VTEST" | sha256sum -c --status || die "data/vtest.avi has an unexpected sha256; delete it and re-run"
fi

# 4. The detector model is in the repo; check it is the one we documented -----
(cd models && sha256sum -c --status nanodet-g-416.onnx.sha256) \
  || die "models/nanodet-g-416.onnx does not match models/nanodet-g-416.onnx.sha256 (truncated checkout or git-lfs?); re-checkout it or rebuild it with models/convert.sh"

# 5. A dynamic-batch copy of the model (for model.batch > 1), made from the committed
#    file by models/make_dynamic.py with pinned onnx/protobuf, its hash checked ------
DYN="$ROOT/models/nanodet-g-416-dynamic.onnx"
DYN_SHA=857519261ec4510ad6043f8a992eef42226821467ae98a5eb280dfc62ec93daa
if [ ! -f "$DYN" ] || ! echo "$DYN_SHA  $DYN" | sha256sum -c --status; then
  if ! "$ROOT/.venv/bin/python" -c "import onnx" 2>/dev/null; then
    say "installing onnx into .venv (to make the dynamic-batch model)"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check "onnx==1.23.2" "protobuf==7.36.2" "ml_dtypes==0.7.0"
  fi
  "$ROOT/.venv/bin/python" "$ROOT/models/make_dynamic.py" "$DYN" >/dev/null \
    || die "models/make_dynamic.py failed"
  echo "$DYN_SHA  $DYN" | sha256sum -c --status \
    || die "models/nanodet-g-416-dynamic.onnx has an unexpected sha256 (onnx/protobuf versions?); delete it and re-run"
fi

# 6. A dynamic-size copy (batch, height and width symbolic) for model.input_size, e.g.
#    [512, 512] for cameras that watch at night (docs/night.md) -----------------
DYNHW="$ROOT/models/nanodet-g-dynamic-size.onnx"
DYNHW_SHA=effee46fd365d639a288edcbdd77f53629eb66173019ef19676b45bd75f464ee
if [ ! -f "$DYNHW" ] || ! echo "$DYNHW_SHA  $DYNHW" | sha256sum -c --status; then
  "$ROOT/.venv/bin/python" "$ROOT/models/make_dynamic.py" "$DYNHW" --dynamic-hw >/dev/null \
    || die "models/make_dynamic.py --dynamic-hw failed"
  echo "$DYNHW_SHA  $DYNHW" | sha256sum -c --status \
    || die "models/nanodet-g-dynamic-size.onnx has an unexpected sha256 (onnx/protobuf versions?); delete it and re-run"
fi

# 7. cargo-deb for `make deb` and tests/package.rs, pinned, from crates.io -------
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
  say "installing cargo-deb $CARGO_DEB_VERSION (crates.io)"
  cargo install --quiet --locked "cargo-deb@$CARGO_DEB_VERSION"
fi

say "ok (ORT_DYLIB_PATH=$ROOT/.venv/libonnxruntime.so)"
