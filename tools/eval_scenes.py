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
Usage: eval_scenes.py [--model models/nanodet-m-416.onnx] [--score 0.35] [--json OUT.json]
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
from reference_decode import MEAN, SIZE, STD, decode, iou  # noqa: E402

PERSON, VEHICLE = 1, 3  # MOT class tags in the ground truth
LABEL_CLASS = {0: PERSON, 1: VEHICLE, 2: VEHICLE, 3: VEHICLE, 5: VEHICLE, 7: VEHICLE}
IOU_MATCH = 0.5
IGNORE_BELOW = 0.5  # of the actor's largest box area
STATIC_SCORE = 0.15


def read_gt(path):
    gt = {}
    for line in open(path):
        f = line.strip().split(",")
        if len(f) < 8:
            continue
        frame, aid = int(f[0]), int(f[1])
        x, y, w, h = map(float, f[2:6])
        gt.setdefault(frame, []).append(dict(actor=aid, cls=int(f[7]), box=[x, y, x + w, y + h]))
    return gt


def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def greedy(dets, gts):
    """Pairs (det index, gt index), class-aware, IoU >= IOU_MATCH, best IoU first."""
    cand = []
    for i, d in enumerate(dets):
        for j, g in enumerate(gts):
            if d["cls"] == g["cls"]:
                v = iou(d["box"], g["box"])
                if v >= IOU_MATCH:
                    cand.append((v, i, j))
    cand.sort(reverse=True)
    used_d, used_g, pairs = set(), set(), []
    for v, i, j in cand:
        if i not in used_d and j not in used_g:
            used_d.add(i)
            used_g.add(j)
            pairs.append((i, j, v))
    return pairs


def evaluate(sess, video, gt, score, snap_dir=None, every=50):
    maxarea = {}
    for rows in gt.values():
        for g in rows:
            maxarea[g["actor"]] = max(maxarea.get(g["actor"], 0.0), area(g["box"]))
    cap = cv2.VideoCapture(video, cv2.CAP_FFMPEG)
    static = []
    st = {c: dict(tp=0, fn=0, fp=0, dup=0, static=0, ious=[]) for c in (PERSON, VEHICLE)}
    per_actor = {}
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
        gts = gt.get(frame, [])
        if not gts:
            static.extend(low)
        for g in gts:
            g["ignore"] = area(g["box"]) < IGNORE_BELOW * maxarea[g["actor"]]
        pairs = greedy(dets, gts)
        matched_d = {i for i, _, _ in pairs}
        matched_g = {j for _, j, _ in pairs}
        for i, j, v in pairs:
            g = gts[j]
            if g["ignore"]:
                continue
            st[g["cls"]]["tp"] += 1
            st[g["cls"]]["ious"].append(v)
            per_actor.setdefault(g["actor"], [0, 0])[0] += 1
        for j, g in enumerate(gts):
            if j not in matched_g and not g["ignore"]:
                st[g["cls"]]["fn"] += 1
                per_actor.setdefault(g["actor"], [0, 0])[1] += 1
        fps = []
        for i, d in enumerate(dets):
            if i in matched_d:
                continue
            if any(s["cls"] == d["cls"] and iou(s["box"], d["box"]) >= IOU_MATCH for s in static):
                st[d["cls"]]["static"] += 1
                continue
            if any(g["cls"] == d["cls"] and g["ignore"] and iou(g["box"], d["box"]) >= IOU_MATCH
                   for g in gts):
                continue
            st[d["cls"]]["fp"] += 1
            fps.append(d)
            if any(gts[j]["cls"] == d["cls"] and iou(gts[j]["box"], d["box"]) >= IOU_MATCH
                   for j in matched_g):
                st[d["cls"]]["dup"] += 1
        if snap_dir and frame % every == 0:
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
    return frame, st, per_actor


def ratio(a, b):
    return a / b if b else float("nan")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default="/tmp/scenes")
    ap.add_argument("--model", default=os.path.join(os.path.dirname(here), "models", "nanodet-m-416.onnx"))
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
