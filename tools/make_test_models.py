#!/usr/bin/env python3
"""Build the tiny ONNX fixture models for the yolov8 / yolox decoders, and their expected boxes.

Each model takes `images` [1,3,64,64] float and returns a known constant tensor whatever
the input (output = C + 0 * ReduceSum(images), so the input is used). The constants hold a
few planted boxes among low-scoring background rows:

  tiny_yolov8.onnx      output0 [1, 4+3, 84] (Ultralytics layout, channel-major: cx, cy, w, h,
                        then 3 class scores), metadata names/imgsz/stride/task as Ultralytics writes
  tiny_yolox.onnx       output  [1, 84, 5+3], 84 = 8*8 + 4*4 + 2*2 anchor points of strides
                        8/16/32; raw grid-relative boxes (x, y, log w, log h), objectness, scores
  tiny_wrong_shape.onnx output0 [1, 7] (no family accepts it)
  expected.json         per model: output shape and values (flat, row-major), and for a few
                        (classes, score threshold) cases the boxes a decoder must give, in
                        model-input pixels (x1, y1, x2, y2, label, score), before NMS.
                        For yolox also `output_decoded`: the same output with boxes already
                        decoded to cx, cy, w, h in input pixels (--decode_in_inference).

The expected boxes are decoded here with numpy, vectorised, independently of the Rust code,
and checked against the planted list.

Usage (repository root):
  /tmp/convvenv/bin/python tools/make_test_models.py [--out DIR]   # needs onnx, numpy
  python tools/make_test_models.py --verify [--out DIR]            # needs onnxruntime, numpy:
                                                                   # runs the models, compares outputs
The output is deterministic: rerunning rewrites identical files.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "models"
SIZE = 64
STRIDES = (8, 16, 32)
NC = 3
NAMES = {0: "person", 1: "bicycle", 2: "car"}
N_ANCHORS = sum((SIZE // s) ** 2 for s in STRIDES)  # 84


def q(values, step):
    """Quantise to multiples of `step` (a power of two): exact in float32, short in JSON."""
    return np.round(np.asarray(values) / step) * step


# ---------------------------------------------------------------------------- yolov8
def yolov8_output():
    """[1, 7, 84]: background scores < 0.3, plus planted anchors."""
    rng = np.random.default_rng(8)
    n = N_ANCHORS
    out = np.zeros((4 + NC, n), dtype=np.float32)
    out[0] = q(rng.uniform(0, SIZE, n), 0.25)
    out[1] = q(rng.uniform(0, SIZE, n), 0.25)
    out[2] = q(rng.uniform(2, 30, n), 0.25)
    out[3] = q(rng.uniform(2, 30, n), 0.25)
    out[4:] = q(rng.uniform(0, 0.29, (NC, n)), 1 / 256)
    # anchor: (cx, cy, w, h), (person, bicycle, car)
    planted = {
        5: ((20, 24, 16, 32), (0.9, 0.1, 0.05)),
        40: ((44, 30, 24, 12), (0.2, 0.5, 0.8)),  # best is car; without car, bicycle 0.5
        70: ((10.5, 50.25, 9, 7.5), (0.1, 0.6, 0.36)),
        77: ((30, 30, 10, 10), (0.34, 0.0, 0.0)),  # just below 0.35
        80: ((60, 4, 8, 8), (0.0, 0.0, 0.35)),  # exactly at 0.35: kept (score >= threshold)
    }
    for a, (box, scores) in planted.items():
        out[:4, a] = box
        out[4:, a] = scores
    return out[None], planted


def decode_yolov8_np(out, classes, thr):
    """Independent numpy decode of [1, 4+nc, N] → list of boxes (input pixels)."""
    o = out[0]
    cls = np.asarray(classes)
    s = o[4 + cls]  # [k, N]
    best = np.argmax(s, axis=0)  # first max wins ties
    score = s[best, np.arange(o.shape[1])]
    keep = np.nonzero(score >= np.float32(thr))[0]
    cx, cy, w, h = (o[i].astype(np.float64) for i in range(4))
    return [box_dict(cx[a] - w[a] / 2, cy[a] - h[a] / 2, cx[a] + w[a] / 2, cy[a] + h[a] / 2,
                     int(cls[best[a]]), float(score[a])) for a in keep]


def planted_yolov8(planted, classes, thr):
    res = []
    for a, ((cx, cy, w, h), scores) in planted.items():
        s = [np.float32(scores[c]) for c in classes]
        k = int(np.argmax(s))
        if s[k] >= np.float32(thr):
            res.append(box_dict(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, classes[k], float(s[k])))
    return res


# ---------------------------------------------------------------------------- yolox
def yolox_grids():
    """(gx, gy, stride) per anchor row, in the order YOLOX's decode_outputs uses."""
    rows = []
    for s in STRIDES:
        g = SIZE // s
        yv, xv = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        grid = np.stack((xv, yv), 2).reshape(-1, 2)
        rows.append(np.concatenate([grid, np.full((grid.shape[0], 1), s)], 1))
    return np.concatenate(rows).astype(np.float32)  # [84, 3]


def yolox_output():
    rng = np.random.default_rng(10)
    n = N_ANCHORS
    out = np.zeros((n, 5 + NC), dtype=np.float32)
    out[:, 0:2] = q(rng.uniform(0, 1, (n, 2)), 1 / 64)
    out[:, 2:4] = q(rng.uniform(-1, 1, (n, 2)), 1 / 64)
    out[:, 4] = q(rng.uniform(0, 0.29, n), 1 / 256)  # obj < 0.3 → obj*cls < 0.3
    out[:, 5:] = q(rng.uniform(0, 1, (n, NC)), 1 / 256)

    def idx(level, gx, gy):
        base = sum((SIZE // s) ** 2 for s in STRIDES[:level])
        return base + gy * (SIZE // STRIDES[level]) + gx

    # (level, gx, gy): (x, y, log w, log h), obj, (person, bicycle, car)
    planted = {
        (0, 2, 3): ((0.5, 0.5, math.log(2), math.log(3)), 0.95, (0.9, 0.1, 0.2)),  # person 0.855, box 12,16,28,40
        (1, 3, 1): ((0.25, 0.75, 0.5, -0.25), 0.8, (0.3, 0.2, 0.9)),  # car 0.72 (person 0.24, bicycle 0.16)
        (2, 0, 1): ((0.625, 0.375, -0.5, 0.125), 0.7, (0.2, 0.85, 0.6)),  # bicycle 0.595
        (0, 2, 1): ((0.5, 0.5, 0.0, 0.0), 0.9, (0.38, 0.0, 0.0)),  # 0.342: obj and cls pass, product does not
        (1, 2, 0): ((0.5, 0.5, 0.0, 0.0), 0.3, (0.99, 0.0, 0.0)),  # 0.297
        (1, 0, 3): ((0.5, 0.5, 0.0, 0.0), 0.36, (0.0, 0.0, 0.97)),  # 0.3492: passes obj, fails product
    }
    for (lv, gx, gy), (raw, obj, scores) in planted.items():
        r = idx(lv, gx, gy)
        out[r, :4] = raw
        out[r, 4] = obj
        out[r, 5:] = scores
    return out[None], planted


def yolox_decode_boxes_np(out):
    """Raw [1, N, 5+nc] → same with boxes decoded to cx, cy, w, h (YOLOX decode_outputs)."""
    g = yolox_grids()
    dec = out.copy()
    dec[0, :, 0:2] = (out[0, :, 0:2] + g[:, 0:2]) * g[:, 2:3]
    dec[0, :, 2:4] = np.exp(out[0, :, 2:4]) * g[:, 2:3]
    return dec


def decode_yolox_np(out, classes, thr):
    d = yolox_decode_boxes_np(out)[0]
    cls = np.asarray(classes)
    s = d[:, 4:5] * d[:, 5 + cls]  # float32 obj * cls, [N, k]
    best = np.argmax(s, axis=1)
    score = s[np.arange(d.shape[0]), best]
    keep = np.nonzero(score >= np.float32(thr))[0]
    cx, cy, w, h = (d[:, i].astype(np.float64) for i in range(4))
    return [box_dict(cx[a] - w[a] / 2, cy[a] - h[a] / 2, cx[a] + w[a] / 2, cy[a] + h[a] / 2,
                     int(cls[best[a]]), float(score[a])) for a in keep]


def planted_yolox(planted, classes, thr):
    res = []
    for (lv, gx, gy), ((x, y, lw, lh), obj, scores) in planted.items():
        st = STRIDES[lv]
        cx, cy = (x + gx) * st, (y + gy) * st
        w, h = math.exp(lw) * st, math.exp(lh) * st
        s = [np.float32(obj) * np.float32(scores[c]) for c in classes]
        k = int(np.argmax(s))
        if s[k] >= np.float32(thr):
            res.append(box_dict(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, classes[k], float(s[k])))
    return res


# ---------------------------------------------------------------------------- common
def box_dict(x1, y1, x2, y2, label, score):
    return {"x1": round(float(x1), 5), "y1": round(float(y1), 5), "x2": round(float(x2), 5),
            "y2": round(float(y2), 5), "label": int(label), "score": round(float(score), 6)}


def same_boxes(a, b):
    key = lambda d: (d["label"], d["x1"], d["y1"])
    a, b = sorted(a, key=key), sorted(b, key=key)
    return len(a) == len(b) and all(
        x["label"] == y["label"] and all(abs(x[k] - y[k]) < 1e-4 for k in ("x1", "y1", "x2", "y2", "score"))
        for x, y in zip(a, b))


def cases(out, planted, decode, from_planted, specs):
    res = []
    for classes, thr in specs:
        boxes = decode(out, classes, thr)
        want = from_planted(planted, classes, thr)
        if not same_boxes(boxes, want):
            sys.exit(f"numpy decode {boxes} != planted {want} for classes {classes} threshold {thr}")
        boxes.sort(key=lambda d: -d["score"])
        res.append({"classes": list(classes), "score_threshold": thr, "boxes": boxes})
    return res


def const_model(out_name, value, metadata=None):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    outp = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, list(value.shape))
    inits = [numpy_helper.from_array(value.astype(np.float32), "planted"),
             numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")]
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["input_sum"], keepdims=0),
        helper.make_node("Mul", ["input_sum", "zero"], ["input_zero"]),
        helper.make_node("Add", ["planted", "input_zero"], [out_name]),
    ]
    graph = helper.make_graph(nodes, "wardwatch_fixture", [inp], [outp], inits)
    model = helper.make_model(graph, producer_name="wardwatch tools/make_test_models.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # loadable by ONNX Runtime 1.17+
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model, full_check=True)
    return model


def dumps_compact(doc):
    """JSON with one line per field (value arrays on one line), one line per expected box."""
    def field(k, v, ind):
        if k == "cases":
            inner = []
            for c in v:
                boxes = ",\n".join(" " * (ind + 6) + json.dumps(b) for b in c["boxes"])
                head = json.dumps({k2: v2 for k2, v2 in c.items() if k2 != "boxes"})[:-1]
                inner.append(" " * (ind + 2) + head + ', "boxes": [\n' + boxes + "\n" + " " * (ind + 2) + "]}")
            return " " * ind + json.dumps(k) + ": [\n" + ",\n".join(inner) + "\n" + " " * ind + "]"
        return " " * ind + json.dumps(k) + ": " + json.dumps(v, separators=(",", ":") if isinstance(v, list) else None)
    fams = []
    for fam, e in doc.items():
        fams.append(" " + json.dumps(fam) + ": {\n" + ",\n".join(field(k, v, 2) for k, v in e.items()) + "\n }")
    return "{\n" + ",\n".join(fams) + "\n}\n"


def flat(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def build(out_dir):
    import onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    v8, v8_planted = yolov8_output()
    yx, yx_planted = yolox_output()
    wrong = np.array([[0.5, 0.5, 0.1, 0.1, 0.9, 0.1, 0.1]], dtype=np.float32)
    v8_meta = {
        "task": "detect",
        "stride": "32",
        "batch": "1",
        "imgsz": f"[{SIZE}, {SIZE}]",
        "names": str(NAMES),  # "{0: 'person', 1: 'bicycle', 2: 'car'}"
    }
    models = {
        "tiny_yolov8.onnx": const_model("output0", v8, v8_meta),
        "tiny_yolox.onnx": const_model("output", yx),
        "tiny_wrong_shape.onnx": const_model("output0", wrong),
    }
    for name, m in models.items():
        onnx.save(m, str(out_dir / name))

    expected = {
        "yolov8": {
            "file": "tiny_yolov8.onnx",
            "input_shape": [1, 3, SIZE, SIZE],
            "metadata": v8_meta,
            "output_shape": list(v8.shape),
            "output": flat(v8),
            "cases": cases(v8, v8_planted, decode_yolov8_np, planted_yolov8,
                           [([0, 1, 2], 0.35), ([0, 1], 0.35), ([2], 0.5)]),
        },
        "yolox": {
            "file": "tiny_yolox.onnx",
            "input_shape": [1, 3, SIZE, SIZE],
            "strides": list(STRIDES),
            "output_shape": list(yx.shape),
            "output": flat(yx),
            "output_decoded": flat(yolox_decode_boxes_np(yx)),
            "cases": cases(yx, yx_planted, decode_yolox_np, planted_yolox,
                           [([0, 1, 2], 0.35), ([0, 1], 0.35), ([0, 1, 2], 0.34)]),
        },
        "wrong_shape": {
            "file": "tiny_wrong_shape.onnx",
            "input_shape": [1, 3, SIZE, SIZE],
            "output_shape": list(wrong.shape),
            "output": flat(wrong),
        },
    }
    with open(out_dir / "expected.json", "w") as f:
        f.write(dumps_compact(expected))
    for name in [*models, "expected.json"]:
        print(f"{out_dir / name}: {(out_dir / name).stat().st_size} bytes")


def verify(out_dir):
    import onnxruntime as ort

    expected = json.loads((out_dir / "expected.json").read_text())
    rng = np.random.default_rng(0)
    for fam, e in expected.items():
        sess = ort.InferenceSession(str(out_dir / e["file"]), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ["images"], fam
        assert len(sess.get_outputs()) == 1, fam
        want = np.array(e["output"], dtype=np.float32).reshape(e["output_shape"])
        for x in (np.zeros(e["input_shape"], np.float32), rng.normal(0, 50, e["input_shape"]).astype(np.float32)):
            (got,) = sess.run(None, {"images": x})
            assert got.shape == want.shape, (fam, got.shape, want.shape)
            assert np.array_equal(got, want), fam
        meta = sess.get_modelmeta().custom_metadata_map
        assert meta == e.get("metadata", {}), (fam, meta)
        print(f"{e['file']}: output {list(got.shape)} equals the planted constant; metadata {meta}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--verify", action="store_true", help="run the models with onnxruntime and compare")
    args = ap.parse_args()
    if args.verify:
        verify(args.out)
    else:
        build(args.out)


if __name__ == "__main__":
    main()
