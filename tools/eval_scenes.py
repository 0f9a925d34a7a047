#!/usr/bin/env python3
"""How well does the shipped detector find the objects of rendered scenario videos?

For every VIDEO.avi in a folder that has a VIDEO.gt.txt beside it (as written by
wardwatch's scenegen::render, e.g. `cargo run --release --example render` in the scratch
crate), runs the NanoDet ONNX model on every frame exactly like tools/reference_decode.py
(416x416 resize, score >= 0.35, class-wise NMS 0.45; COCO person -> person; bicycle, car,
motorcycle, bus, truck -> vehicle) and matches detections to ground truth per frame,
class-aware, greedily by IoU >= 0.5.

Bookkeeping, so the numbers measure the composed objects and nothing else:
  * static: detections in frames with no ground truth (the scene before anyone enters:
    the parked van and car of the background, traffic cones the model sometimes calls
    people), taken at a lower score (STATIC_SCORE = 0.15) so that background objects
    flickering around the threshold are caught too, are learnt as static; a later
    unmatched detection with IoU >= 0.5 to a static one of the same class is not a false
    positive (counted apart).
  * dup: an unmatched detection with IoU >= 0.5 to an already matched ground-truth box
    of its class (e.g. the model's "bicycle" and "motorcycle" boxes on one motorbike,
    both kept because NMS is per COCO label, as in wardwatch). Counted as false
    positives (precision includes them) and also shown apart.
  * ignored: ground-truth boxes with less than half the area of that actor's largest box
    (entering or leaving across the frame edge) count neither as misses nor, when matched,
    as hits; a detection matching one is not a false positive.

Prints one row per video and class: per class recall = TP / (TP + FN) and precision = TP / (TP + FP),
mean IoU of the hits, and recall per actor.

Needs: onnxruntime, opencv-python-headless, numpy.
Usage: eval_scenes.py [--model models/nanodet-g-416.onnx] [--score 0.35] [--json OUT.json]
                      [--snapshots SNAP_DIR [--every N]] [DIR (/tmp/scenes)]
  --snapshots writes every Nth frame (default 50) as PNG with ground truth (green),
  hits (blue) and false positives (red) drawn, for looking at.
"""
import argparse
import glob
import json
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_decode  # noqa: E402
from reference_decode import MEAN, SIZE, STD, decode  # noqa: E402

from scene_metrics import IOU_MATCH, PERSON, VEHICLE, Scorer, read_mot  # noqa: E402

LABEL_CLASS = {0: PERSON, 1: VEHICLE, 2: VEHICLE, 3: VEHICLE, 5: VEHICLE, 7: VEHICLE}
STATIC_SCORE = 0.15


def read_gt(path):
    return read_mot(path)


def evaluate(sess, video, gt, score, snap_dir=None, every=50):
    cap = cv2.VideoCapture(video, cv2.CAP_FFMPEG)
    scorer = Scorer(gt)
    frame = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frame += 1
        fh, fw = img.shape[:2]
        x = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        x = ((x - MEAN) / STD).transpose(2, 0, 1)[None]
        # decode once at the lower score; greedy NMS keeps the same boxes above `score`
        reference_decode.SCORE = min(STATIC_SCORE, score)
        low = [dict(cls=LABEL_CLASS[d["label"]], box=d["box"], score=d["score"])
               for d in decode(sess.run(None, {sess.get_inputs()[0].name: x}), fw, fh)]
        dets = [d for d in low if d["score"] >= score]
        pairs, fps = scorer.frame(frame, dets, low)
        if snap_dir and frame % every == 0:
            gts = gt.get(frame, [])
            im = img.copy()
            box = lambda b: (tuple(int(round(v)) for v in b[:2]), tuple(int(round(v)) for v in b[2:]))
            for g in gts:
                cv2.rectangle(im, *box(g["box"]), (0, 200, 0) if not g["ignore"] else (0, 120, 0), 1)
            for i, j, v in pairs:
                cv2.rectangle(im, *box(dets[i]["box"]), (255, 120, 0), 1)
            for d in fps:
                cv2.rectangle(im, *box(d["box"]), (0, 0, 255), 1)
                cv2.putText(im, f"{d['score']:.2f}", box(d["box"])[0], cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 255))
            name = os.path.basename(video)[:-4]
            cv2.imwrite(os.path.join(snap_dir, f"{name}_{frame:04d}.png"), im)
    return frame, scorer.st, scorer.per_actor


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default="/tmp/scenes")
    ap.add_argument("--model", default=os.path.join(os.path.dirname(here), "models", "nanodet-g-416.onnx"))
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--score", type=float, default=reference_decode.SCORE, help="score threshold (0.35)")
    ap.add_argument("--snapshots", help="write annotated frames here")
    ap.add_argument("--every", type=int, default=50)
    args = ap.parse_args()
    if args.snapshots:
        os.makedirs(args.snapshots, exist_ok=True)
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    videos = sorted(v for v in glob.glob(os.path.join(args.dir, "*.avi"))
                    if os.path.exists(v[:-4] + ".gt.txt"))
    if not videos:
        raise SystemExit(f"no VIDEO.avi with VIDEO.gt.txt in {args.dir}")
    out = {}
    print(f"score >= {args.score}, IoU >= {IOU_MATCH}")
    print("| video | frames | class | GT | recall | precision | FP | of which dup | static | mean IoU | recall per actor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for v in videos:
        n, st, per_actor = evaluate(sess, v, read_gt(v[:-4] + ".gt.txt"), args.score, args.snapshots, args.every)
        name = os.path.basename(v)[:-4]
        out[name] = {}
        actors = " ".join(f"{a}:{ratio(h, h + m):.2f}" for a, (h, m) in sorted(per_actor.items()))
        for c, cname in ((PERSON, "person"), (VEHICLE, "vehicle")):
            s = st[c]
            ngt = s["tp"] + s["fn"]
            if ngt == 0 and s["fp"] == 0:
                continue
            rec, prec = ratio(s["tp"], ngt), ratio(s["tp"], s["tp"] + s["fp"])
            miou = float(np.mean(s["ious"])) if s["ious"] else float("nan")
            out[name][cname] = dict(gt=ngt, tp=s["tp"], fn=s["fn"], fp=s["fp"], dup=s["dup"], static=s["static"],
                                    recall=rec, precision=prec, mean_iou=miou)
            print(f"| {name} | {n} | {cname} | {ngt} | {rec:.3f} | {prec:.3f} | {s['fp']} | {s['dup']} | "
                  f"{s['static']} | {miou:.2f} | {actors} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
