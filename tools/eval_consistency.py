#!/usr/bin/env python3
"""Tracking by night against tracking by day, on real footage without ground truth.

The day replay's confirmed tracks are the reference; the night copy's tracks (the same
frames through the night look of examples/make_night.rs: grey, dark tone curve, blur,
sensor noise) are scored against them with py-motmetrics (IoU >= 0.5), per class. Also
reports how many track ids each replay makes, the ratio night / day, and the event count.

    cargo run --release --example make_night -- data/vtest.avi /tmp/vtest-night.avi
    python3 -m venv /tmp/motvenv && /tmp/motvenv/bin/pip install motmetrics "numpy<2" "pandas<2.3"
    /tmp/motvenv/bin/python tools/eval_consistency.py --day data/vtest.avi \\
        --night /tmp/vtest-night.avi --config config/demo.toml [--variant NAME=TOML ...]

Variants are config fragments appended to (merged into) the config, as in
eval_pipeline.py; without any, the config as it is.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import motmetrics as mm
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_pipeline import merge_toml  # noqa: E402

START = "2026-11-26T23:00:00+07:00"


def replay(ww, config, video, out):
    cmd = [ww, "replay", "--no-mqtt", "--json", "--config", config, "--start", START,
           "--export-mot", out, video]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
    starts = sum(1 for l in p.stdout.splitlines() if '"phase":"start"' in l.replace(" ", ""))
    return starts


def load(path):
    a = np.loadtxt(path, delimiter=",", ndmin=2)
    return a


def score(day, night):
    acc = mm.MOTAccumulator(auto_id=False)
    frames = sorted(set(day[:, 0].astype(int)) | set(night[:, 0].astype(int)))
    for f in frames:
        g = day[day[:, 0] == f]
        h = night[night[:, 0] == f]
        dist = mm.distances.iou_matrix(g[:, 2:6], h[:, 2:6], max_iou=0.5)
        acc.update(g[:, 1].astype(int), h[:, 1].astype(int), dist, frameid=f)
    mh = mm.metrics.create()
    return mh.compute(acc, metrics=["mota", "idf1", "num_switches", "recall", "precision",
                                    "num_unique_objects"], return_dataframe=False)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--day", required=True)
    ap.add_argument("--night", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--wardwatch", default=os.path.join(repo, "target", "release", "wardwatch"))
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--work")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="ww-consistency-")
    os.makedirs(work, exist_ok=True)
    base = open(a.config).read()
    variants = [tuple(v.split("=", 1)) for v in a.variant] or [("as configured", "")]
    print("| variant | day ids | night ids | night/day | MOTA | IDF1 | ID sw. | recall | precision | events day / night |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for i, (name, frag) in enumerate(variants):
        cfg = os.path.join(os.path.dirname(os.path.abspath(a.config)), f".consistency{i}.toml")
        with open(cfg, "w") as f:
            f.write(merge_toml(base, frag.replace("\\n", "\n")))
        try:
            dmot, nmot = os.path.join(work, f"day{i}.txt"), os.path.join(work, f"night{i}.txt")
            ed = replay(a.wardwatch, cfg, a.day, dmot)
            en = replay(a.wardwatch, cfg, a.night, nmot)
        finally:
            os.remove(cfg)
        day, night = load(dmot), load(nmot)
        nd, nn = len(set(day[:, 1])), len(set(night[:, 1]))
        m = score(day, night)
        print(f"| {name} | {nd} | {nn} | {nn / nd:.2f} | {m['mota']:.3f} | {m['idf1']:.3f} | "
              f"{m['num_switches']} | {m['recall']:.3f} | {m['precision']:.3f} | {ed} / {en} |", flush=True)


if __name__ == "__main__":
    main()
