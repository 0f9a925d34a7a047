#!/usr/bin/env python3
"""Independent reference decode of the shipped NanoDet model, for the Rust detector test.

Reads frames of a video with OpenCV (Python), runs the ONNX model with onnxruntime,
decodes it with numpy (softmax over bins, distance = sum(p*k)*stride, cell centre
((i mod g) + 0.5) * stride), applies class-wise NMS (IoU 0.45, score >= 0.35), and
writes the boxes as JSON. tests/detector.rs compares wardwatch's boxes with them (1 px).

Needs: pip install onnxruntime==1.32.0 opencv-python-headless numpy
Usage: reference_decode.py MODEL VIDEO OUT.json FRAME [FRAME ...]
"""
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort

MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
SIZE = 416
STRIDES = (8, 16, 32)
SCORE = 0.35
IOU = 0.45
# wardwatch keeps these COCO labels: person, bicycle, car, motorcycle, bus, truck
KEEP = (0, 1, 2, 3, 5, 7)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def decode(outputs, fw, fh):
    dets = []
    sx, sy = fw / SIZE, fh / SIZE
    for s in STRIDES:
        g = SIZE // s
        n = g * g
        cls = next(o for o in outputs if o.shape == (1, n, 80))[0]
        reg = next(o for o in outputs if o.shape[1] == n and o.shape[2] != 80)[0]
        bins = reg.shape[1] // 4
        for i in range(n):
            sc = cls[i, list(KEEP)]
            k = int(np.argmax(sc))
            if sc[k] < SCORE:
                continue
            label = KEEP[k]
            d = []
            for side in range(4):
                l = reg[i, side * bins:(side + 1) * bins].astype(np.float64)
                p = np.exp(l - l.max())
                p /= p.sum()
                d.append(float((p * np.arange(bins)).sum() * s))
            cx = (i % g + 0.5) * s
            cy = (i // g + 0.5) * s
            dets.append(dict(label=label, score=float(sc[k]),
                             box=[(cx - d[0]) * sx, (cy - d[1]) * sy, (cx + d[2]) * sx, (cy + d[3]) * sy]))
    dets.sort(key=lambda d: -d["score"])
    kept = []
    for d in dets:
        if all(k["label"] != d["label"] or iou(k["box"], d["box"]) <= IOU for k in kept):
            kept.append(d)
    return kept[:100]


def main():
    model, video, out, *frames = sys.argv[1:]
    frames = sorted(int(f) for f in frames)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    cap = cv2.VideoCapture(video)
    result = {"model": model.split("/")[-1], "video": video.split("/")[-1], "frames": {}}
    idx = 0
    while frames and idx <= frames[-1]:
        ok, img = cap.read()
        if not ok:
            break
        if idx in frames:
            fh, fw = img.shape[:2]
            x = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
            x = ((x - MEAN) / STD).transpose(2, 0, 1)[None]
            outs = sess.run(None, {sess.get_inputs()[0].name: x})
            result["frames"][str(idx)] = decode(outs, fw, fh)
        idx += 1
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {out}: " + ", ".join(f"frame {k}: {len(v)} boxes" for k, v in result["frames"].items()))


if __name__ == "__main__":
    main()
