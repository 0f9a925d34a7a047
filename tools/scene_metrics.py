"""Detection scoring against a rendered scene's ground truth, shared by eval_scenes.py
(the model run from Python) and eval_night.py (wardwatch's own detection export).

Bookkeeping (see eval_scenes.py for the reasons):
  * static: detections in frames with no ground truth are learnt as static scenery (parked
    van and car, cones); a later unmatched detection with IoU >= 0.5 to a static one of
    the same class is not a false positive (counted apart);
  * dup: an unmatched detection with IoU >= 0.5 to a matched ground-truth box of its class
    (a motorbike reported as bicycle and motorcycle) is a false positive, also shown apart;
  * ignored: ground-truth boxes with less than half the area of the actor's largest box
    (crossing the frame edge) count neither as misses nor as hits.
"""

PERSON, VEHICLE = 1, 3  # MOT class tags
IOU_MATCH = 0.5
IGNORE_BELOW = 0.5


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def read_mot(path, with_actor=True):
    """frame -> [dict(actor|id, cls, box, score)] from a MOT file (class in column 8)."""
    out = {}
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split(",")
        if len(f) < 6:
            continue
        frame, oid = int(float(f[0])), int(float(f[1]))
        x, y, w, h = map(float, f[2:6])
        score = float(f[6]) if len(f) > 6 else 1.0
        cls = int(float(f[7])) if len(f) > 7 else PERSON
        out.setdefault(frame, []).append(
            dict(actor=oid, cls=cls, box=[x, y, x + w, y + h], score=score))
    return out


def greedy(dets, gts):
    """Pairs (det index, gt index, IoU), class-aware, IoU >= IOU_MATCH, best IoU first."""
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


class Scorer:
    """Per-class recall / precision of one video's detections against its ground truth."""

    def __init__(self, gt):
        self.gt = gt
        self.maxarea = {}
        for rows in gt.values():
            for g in rows:
                self.maxarea[g["actor"]] = max(self.maxarea.get(g["actor"], 0.0), area(g["box"]))
        self.static = []
        self.st = {c: dict(tp=0, fn=0, fp=0, dup=0, static=0, ious=[]) for c in (PERSON, VEHICLE)}
        self.per_actor = {}

    def frame(self, frame, dets, low=None):
        """Score one frame. `dets`: dict(cls, box, score); `low`: the same at a lower
        score, used to learn static scenery (defaults to `dets`). Returns (pairs, false
        positives) for drawing."""
        gts = self.gt.get(frame, [])
        if not gts:
            self.static.extend(low if low is not None else dets)
        for g in gts:
            g["ignore"] = area(g["box"]) < IGNORE_BELOW * self.maxarea[g["actor"]]
        pairs = greedy(dets, gts)
        matched_d = {i for i, _, _ in pairs}
        matched_g = {j for _, j, _ in pairs}
        st = self.st
        for i, j, v in pairs:
            g = gts[j]
            if g["ignore"]:
                continue
            st[g["cls"]]["tp"] += 1
            st[g["cls"]]["ious"].append(v)
            self.per_actor.setdefault(g["actor"], [0, 0])[0] += 1
        for j, g in enumerate(gts):
            if j not in matched_g and not g["ignore"]:
                st[g["cls"]]["fn"] += 1
                self.per_actor.setdefault(g["actor"], [0, 0])[1] += 1
        fps = []
        for i, d in enumerate(dets):
            if i in matched_d:
                continue
            if any(s["cls"] == d["cls"] and iou(s["box"], d["box"]) >= IOU_MATCH for s in self.static):
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
        return pairs, fps

    def summary(self, cls):
        s = self.st[cls]
        ngt = s["tp"] + s["fn"]
        ratio = lambda a, b: a / b if b else float("nan")
        ious = s["ious"]
        return dict(gt=ngt, tp=s["tp"], fn=s["fn"], fp=s["fp"], dup=s["dup"], static=s["static"],
                    recall=ratio(s["tp"], ngt), precision=ratio(s["tp"], s["tp"] + s["fp"]),
                    mean_iou=(sum(ious) / len(ious)) if ious else float("nan"))
