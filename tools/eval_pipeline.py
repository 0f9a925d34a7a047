#!/usr/bin/env python3
"""Detection, tracking and incident accuracy of the whole wardwatch pipeline on rendered
scenario videos with ground truth, by day and by night, for one or more config variants.

For every VIDEO.avi with a VIDEO.gt.txt beside it (rendered by
`cargo run --release --example render_scenes -- DIR`) and every variant:

1. `wardwatch replay --no-mqtt --gating off --json --export-detections D --export-mot T VIDEO`
   with a config made from the variant (detect_fps = the video's 10 fps, one full-frame
   zone with gathering (min_duration 15 s, clear_after 5 s) and weaving, schedule always).
2. **Detections** (D) are scored against the ground truth per class, with the bookkeeping
   of tools/scene_metrics.py (static scenery, duplicates, boxes crossing the frame edge).
3. **Tracks** (T): for each ground-truth actor, the confirmed track ids that cover it
   (IoU >= 0.5 in a frame); `ids/actor` is their mean count (1.0 is ideal), `covered` the
   share of the actor's frames with a covering track.
4. **Incidents**: the same config is replayed on the ground-truth boxes themselves
   (`--detections`, score 0.9: the rules run on perfect detections; with
   `--reference-wardwatch` by another build, so that two builds share one reference), and
   the incidents of
   the video replay are matched to those, per rule, greedily by temporal IoU >= --tiou
   (default 0.3). Reported: matched, missed (in the reference only), false (in the video
   only), and for matched gatherings the mean |peak_people - reference peak_people|.
5. `ms/frame`: the replay's mean inference time per inferred frame.

Variants are named config fragments, `NAME=TOML` (the TOML is appended to the generated
config, use `\\n` between lines), e.g.
    --variant 'baseline=[model]\\nvehicle_nms = "per_label"\\n[model.night]\\nmode = "off"'
Without --variant the tool runs the sequence of steps documented in docs/night.md.

Needs only the Python standard library (and the wardwatch binary).
Usage: eval_pipeline.py [--wardwatch target/release/wardwatch] [--model M] [--json OUT]
                        [--variant NAME=TOML ...] [--only SUBSTRING] [DIR (/tmp/scenes)]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scene_metrics import PERSON, VEHICLE, Scorer, iou, read_mot  # noqa: E402

CONFIG = """\
[site]
name = "eval"
timezone = "Asia/Ho_Chi_Minh"

[mqtt]
outbox_dir = "{work}/outbox"

[model]
path = "{model}"

[evidence]
dir = "{work}/snapshots"

[[camera]]
id = "scene"
url = "{work}/none.avi"
detect_fps = {fps}

  [[camera.zone]]
  id = "all"
  polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
  rules = ["gathering", "weaving"]
  schedule = "always"

    [camera.zone.gathering]
    min_duration = "15s"
    clear_after = "5s"
"""

# The steps of docs/night.md, each adding one change to the one before.
STEPS = [
    ("1 the old settings (per-label NMS, no night profile, vehicles like people)",
     '[model]\nvehicle_nms = "per_label"\n[model.night]\nmode = "off"\n'
     '[tracker]\nvehicle_high_score = 0.5\nvehicle_confirm_score = 0.01\n'),
    ("2 + one NMS across vehicle labels",
     '[model.night]\nmode = "off"\n[tracker]\nvehicle_high_score = 0.5\nvehicle_confirm_score = 0.01\n'),
    ("3 + night profile: equalisation only",
     '[model.night]\nscore_thresholds = {}\n[tracker]\nvehicle_high_score = 0.5\nvehicle_confirm_score = 0.01\n'),
    ("4 + night vehicle thresholds",
     '[tracker]\nvehicle_high_score = 0.5\nvehicle_confirm_score = 0.01\n'),
    ("5 + track-level confidence (the defaults)", ''),
]
# Optional extra step (--with-512): the dynamic-size copy of the model at 512x512.
STEP_512 = ("6 + 512x512 input (dynamic-size copy)", '[model]\ninput_size = [512, 512]\n')

START = "2026-11-26T23:00:00+07:00"


def merge_toml(base, extra):
    """Append `extra`; a table header that already exists in `base` is merged into it by
    inserting its keys right after the existing header."""
    out = base
    current = None
    pending = {}
    order = []
    for line in extra.splitlines():
        m = re.match(r"\s*\[([^\[\]]+)\]\s*$", line)
        if m:
            current = m.group(1).strip()
            if current not in pending:
                pending[current] = []
                order.append(current)
        elif line.strip():
            pending.setdefault(current, []).append(line)
    for table in order:
        header = re.compile(r"^\[" + re.escape(table) + r"\][ \t]*$", re.M)
        m = header.search(out)
        if not m:
            out += f"\n[{table}]\n" + "\n".join(pending[table]) + "\n"
            continue
        # Keys already in the table are replaced; the others are added under its header.
        end = re.compile(r"^\s*\[", re.M).search(out, m.end())
        body = out[m.end():end.start() if end else len(out)]
        add = []
        for line in pending[table]:
            key = line.split("=", 1)[0].strip()
            kre = re.compile(r"^[ \t]*" + re.escape(key) + r"[ \t]*=.*$", re.M)
            if kre.search(body):
                body = kre.sub(lambda _: line, body, count=1)
            else:
                add.append(line)
        body = ("\n" + "\n".join(add) if add else "") + body
        out = out[:m.end()] + body + out[end.start() if end else len(out):]
    return out


def replay(ww, config, args, stdout_json=True):
    cmd = [ww, "replay", "--no-mqtt", "--gating", "off", "--config", config, "--start", START]
    if stdout_json:
        cmd.append("--json")
    cmd += args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
    events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    summary = [l for l in p.stderr.splitlines() if l.startswith("replay:")][-1]
    m = re.search(r"inference ([0-9.]+) ms/inferred frame", summary)
    return events, (float(m.group(1)) if m else float("nan")), summary


def incidents(events):
    """id -> dict(rule, start, end, peak) from a replay's events."""
    out = {}
    ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    for e in events:
        inc = out.setdefault(e["id"], dict(rule=e["rule"], start=ts(e["started_utc"]), end=None, peak=0))
        inc["end"] = ts(e["time_utc"])
        inc["peak"] = max(inc["peak"], e["peak_people"])
    return list(out.values())


def tiou(a, b):
    inter = max(0.0, min(a["end"], b["end"]) - max(a["start"], b["start"]))
    union = max(a["end"], b["end"]) - min(a["start"], b["start"])
    return inter / union if union > 0 else 0.0


def match_incidents(video, ref, threshold):
    res = {}
    for rule in sorted({i["rule"] for i in video + ref}):
        v = [i for i in video if i["rule"] == rule]
        r = [i for i in ref if i["rule"] == rule]
        cand = sorted(((tiou(a, b), i, j) for i, a in enumerate(v) for j, b in enumerate(r)), reverse=True)
        used_v, used_r, pairs = set(), set(), []
        for t, i, j in cand:
            if t >= threshold and i not in used_v and j not in used_r:
                used_v.add(i)
                used_r.add(j)
                pairs.append((i, j))
        err = [abs(v[i]["peak"] - r[j]["peak"]) for i, j in pairs]
        res[rule] = dict(matched=len(pairs), missed=len(r) - len(pairs), false=len(v) - len(pairs),
                         reference=len(r), peak_error=(sum(err) / len(err)) if err else None)
    return res


def track_coverage(gt, tracks):
    """Per class: mean confirmed ids covering an actor, and the share of its frames covered."""
    per_actor = {}
    for frame, rows in gt.items():
        hyps = tracks.get(frame, [])
        for g in rows:
            a = per_actor.setdefault(g["actor"], dict(cls=g["cls"], ids=set(), frames=0, covered=0))
            a["frames"] += 1
            best = max(hyps, key=lambda h: iou(h["box"], g["box"]), default=None)
            if best is not None and iou(best["box"], g["box"]) >= 0.5:
                a["ids"].add(best["actor"])
                a["covered"] += 1
    out = {}
    for cls in (PERSON, VEHICLE):
        acts = [a for a in per_actor.values() if a["cls"] == cls]
        if acts:
            ids = {}
            for k, a in per_actor.items():
                if a["cls"] == cls:
                    for i in a["ids"]:
                        ids.setdefault(i, set()).add(k)
            out[cls] = dict(actors=len(acts),
                            ids_per_actor=sum(len(a["ids"]) for a in acts) / len(acts),
                            actors_per_id=(sum(len(v) for v in ids.values()) / len(ids)) if ids else float("nan"),
                            covered=sum(a["covered"] for a in acts) / max(1, sum(a["frames"] for a in acts)))
    return out


def gt_detections(gt_file, out, fps, size, frames, video):
    with open(gt_file) as f, open(out, "w") as g:
        g.write(f"# wardwatch detections: fps={fps:g} size={size[0]}x{size[1]} frames={frames} video={video}\n")
        for line in f:
            p = line.strip().split(",")
            if len(p) >= 8:
                g.write(f"{p[0]},-1,{p[2]},{p[3]},{p[4]},{p[5]},0.9,{p[7]},-1,-1\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", default="/tmp/scenes")
    ap.add_argument("--wardwatch", default=os.path.join(repo, "target", "release", "wardwatch"))
    ap.add_argument("--model", default=os.path.join(repo, "models", "nanodet-g-416.onnx"))
    ap.add_argument("--variant", action="append", default=[], help="NAME=TOML fragment (repeatable)")
    ap.add_argument("--only", help="only videos whose name contains this")
    ap.add_argument("--reference-wardwatch", metavar="BIN",
                    help="run the ground-truth replay with this binary instead (to compare "
                         "builds against one reference)")
    ap.add_argument("--tiou", type=float, default=0.3)
    ap.add_argument("--work", help="directory for generated files (default: a temporary one)")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--with-512", metavar="MODEL",
                    help="also run the defaults at 512x512 on this dynamic-size model copy")
    a = ap.parse_args()
    a.model = os.path.abspath(a.model)
    variants = [tuple(v.split("=", 1)) for v in a.variant] if a.variant else STEPS
    variants = [(n, t.replace("\\n", "\n"), a.model) for n, t in variants]
    if a.with_512:
        variants.append((STEP_512[0], STEP_512[1], os.path.abspath(a.with_512)))
    work = a.work or tempfile.mkdtemp(prefix="ww-evalpipe-")
    os.makedirs(work, exist_ok=True)
    videos = sorted(v for v in glob.glob(os.path.join(a.dir, "*.avi"))
                    if os.path.exists(v[:-4] + ".gt.txt") and (not a.only or a.only in os.path.basename(v)))
    if not videos:
        sys.exit(f"no VIDEO.avi with VIDEO.gt.txt in {a.dir}")
    results = {}
    print("| variant | video | person R / P | vehicle R / P | vehicle FP (dup) | ids per actor (person, vehicle) | actors per id (p, v) | covered (p, v) | "
          "incidents matched / missed / false | peak error | ms/frame |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for vi, (name, frag, model) in enumerate(variants):
        cfg = os.path.join(work, f"variant{vi}.toml")
        with open(cfg, "w") as f:
            f.write(merge_toml(CONFIG.format(work=work, model=model, fps=10), frag))
        for v in videos:
            vid = os.path.basename(v)[:-4]
            gt = read_mot(v[:-4] + ".gt.txt")
            dets_file = os.path.join(work, f"{vid}_v{vi}_dets.txt")
            mot_file = os.path.join(work, f"{vid}_v{vi}_mot.txt")
            events, ms, summary = replay(a.wardwatch, cfg, ["--export-detections", dets_file,
                                                             "--export-mot", mot_file, v])
            frames = int(re.search(r"replay: (\d+) frames", summary).group(1))
            ref_file = os.path.join(work, f"{vid}_gt_dets.txt")
            gt_detections(v[:-4] + ".gt.txt", ref_file, 10, (768, 576), frames, os.path.basename(v))
            ref_events, _, _ = replay(a.reference_wardwatch or a.wardwatch, cfg, ["--detections", ref_file])
            for tag, evs in (("video", events), ("reference", ref_events)):
                with open(os.path.join(work, f"{vid}_v{vi}_{tag}_events.jsonl"), "w") as f:
                    f.writelines(json.dumps(e) + "\n" for e in evs)
            dets = read_mot(dets_file)
            scorer = Scorer(gt)
            for fr in range(1, frames + 1):
                scorer.frame(fr, dets.get(fr, []))
            tracks = read_mot(mot_file)
            cov = track_coverage(gt, tracks)
            inc = match_incidents(incidents(events), incidents(ref_events), a.tiou)
            r = results.setdefault(name, {})[vid] = dict(
                person=scorer.summary(PERSON), vehicle=scorer.summary(VEHICLE),
                tracks={("person" if c == PERSON else "vehicle"): x for c, x in cov.items()},
                incidents=inc, ms_per_frame=ms, summary=summary)
            fmt = lambda s: "–" if not s["gt"] else f"{s['recall']:.2f} / {s['precision']:.2f}"
            ids = lambda c, k="ids_per_actor": f"{r['tracks'][c][k]:.2f}" if c in r["tracks"] else "–"
            tot = {k: sum(x[k] for x in inc.values()) for k in ("matched", "missed", "false")}
            errs = [x["peak_error"] for x in inc.values() if x["peak_error"] is not None]
            print(f"| {name} | {vid} | {fmt(r['person'])} | {fmt(r['vehicle'])} | {r['vehicle']['fp']} ({r['vehicle']['dup']}) | "
                  f"{ids('person')}, {ids('vehicle')} | {ids('person', 'actors_per_id')}, {ids('vehicle', 'actors_per_id')} | "
                  f"{ids('person', 'covered')}, {ids('vehicle', 'covered')} | {tot['matched']} / {tot['missed']} / {tot['false']} | "
                  f"{(sum(errs) / len(errs)) if errs else float('nan'):.2f} | {ms:.1f} |", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
