#!/usr/bin/env bash
# Make data/vtest-1080p.mp4: vtest.avi scaled to 1920x1080, H.264 (libx264, main profile,
# 10 fps, GOP 20), as a 1080p camera would send it, for `wardwatch bench` decode figures.
# Installs Debian's ffmpeg if it is missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=data/vtest-1080p.mp4
[ -f "$OUT" ] && { echo "make_1080p: $OUT exists"; exit 0; }
[ -f data/vtest.avi ] || { echo "make_1080p: data/vtest.avi missing: run make setup" >&2; exit 1; }
if ! command -v ffmpeg >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi
ffmpeg -loglevel error -y -i data/vtest.avi -vf scale=1920:1080 -c:v libx264 -profile:v main \
  -pix_fmt yuv420p -g 20 -r 10 "$OUT"
echo "make_1080p: wrote $OUT"
