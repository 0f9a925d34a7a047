#!/usr/bin/env python3
"""Make a dynamic-batch copy of models/nanodet-g-416.onnx.

    python models/make_dynamic.py OUT.onnx [--src SRC.onnx] [--dynamic-hw]

Needs the `onnx` package (tested with onnx 1.23.2); onnxruntime is not needed.

What the shipped (tf2onnx, opset 13) graph hard-codes for batch 1
------------------------------------------------------------------
* The input `input_1:0` is declared [1, 3, 416, 416].
* The six head Reshapes (one per stride for scores and for box distributions,
  before the final Transpose to [B, N, C]) take their target shape from a
  constant sub-graph that evaluates to [1, 80, -1] or [1, 44, -1]:
      Cast(Add(<initializer [1, C, -1]>, ScatterND(Expand(0, [3]), <empty>, <empty>)))
  (the ScatterND adds zeros; it is a TF SparseToDense left-over).  With a
  batch of B the leading 1 folds the batch into the cell axis: ONNX Runtime then
  *silently* returns [1, B*N, C] instead of [B, N, C].  This is why changing the
  input declaration alone is not enough.
* Nothing else depends on the batch or on the input size: every Pad is a
  constant symmetric [1, 1] spatial pad, the four Resize nodes use scales
  (x2 / x0.5), not sizes, and there are no other Reshape/Expand/Tile nodes.

What this script changes
------------------------
1. Each head Reshape gets a plain int64 initializer [0, C, -1] instead of the
   constant sub-graph (0 = "copy dim 0 of the data", valid because opset 13
   Reshape has no `allowzero`).  The now-dead sub-graph (Cast, Add, ScatterND,
   Expand and their initializers) is dropped.
2. The input becomes ["batch", 3, 416, 416] (or ["batch", 3, "height", "width"]
   with --dynamic-hw) and the outputs get explicit shapes
   ["batch", N, C] with N = 2704 / 676 / 169 for strides 8 / 16 / 32
   (or "cells_s8" / "cells_s16" / "cells_s32" with --dynamic-hw).
   Output names and order are unchanged.
3. The four FPN Resize outputs get value_info ["batch", 128, h, w] (see
   annotate_resize_batch: without it ORT skips two Conv+Add fusions).
4. onnx.checker (full_check, i.e. with strict shape inference) must pass.

--dynamic-hw: the graph runs at any H, W that are multiples of 32
(e.g. 320 -> N = 1600/400/100, 512 -> 4096/1024/256, 384x640 -> 3840/960/240).
Other sizes fail at run time in the first FPN Add (the stride-2 convs round up,
the x0.5 Resize rounds down).  The weights were trained for 416x416 only.
With symbolic H/W, ORT cannot prove the FPN Add inputs equal even with the
annotation below, so it keeps the 90-node graph (outputs differ from the
original by <= 2e-6; slightly slower at batch 1).  Default is batch-only.

The output is deterministic: no timestamps, no random names, nodes keep their
original order and names, so the same source gives the same bytes.  The sha256
of the written file is printed.
"""

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE / "nanodet-g-416.onnx"
INPUT_HW = 416          # the size the shipped graph is declared for
STRIDES = (8, 16, 32)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_source_hash(src):
    """Refuse a source that is not the committed model (sidecar .sha256 file)."""
    digest = sha256_of(src)
    sidecar = Path(str(src) + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text().split()[0]
        if digest != expected:
            sys.exit(f"error: {src} sha256 {digest} != {expected} in {sidecar}")
    else:
        print(f"warning: no {sidecar.name}; source hash not checked", file=sys.stderr)
    return digest


def eval_constant(graph, name):
    """Evaluate tensor `name` if it depends only on initializers (else None).

    Builds a tiny model from the producing nodes and runs it with the ONNX
    reference evaluator, so whatever tf2onnx emitted is evaluated exactly.
    """
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    graph_inputs = {i.name for i in graph.input}
    nodes, used_inits, todo, seen = [], set(), [name], set()
    while todo:
        t = todo.pop()
        if t in seen or t == "":
            continue
        seen.add(t)
        if t in inits:
            used_inits.add(t)
        elif t in graph_inputs or t not in producer:
            return None                     # depends on run-time data
        else:
            n = producer[t]
            if n not in nodes:
                nodes.append(n)
            todo.extend(n.input)
    order = {id(n): i for i, n in enumerate(graph.node)}
    nodes.sort(key=lambda n: order[id(n)])   # keep topological order
    sub = helper.make_graph(
        nodes, "const", [],
        [helper.make_tensor_value_info(name, TensorProto.UNDEFINED, None)],
        [inits[i] for i in sorted(used_inits)])
    model = helper.make_model(sub, opset_imports=[helper.make_opsetid("", 13)])
    return ReferenceEvaluator(model).run(None, {})[0]


def fix_head_reshapes(model):
    """Replace each Reshape's constant [1, C, -1] target with [0, C, -1]."""
    graph = model.graph
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    assert len(reshapes) == 6, f"expected 6 head Reshapes, found {len(reshapes)}"
    new_inits = {}
    for n in reshapes:
        assert not any(a.name == "allowzero" and a.i for a in n.attribute)
        shape = eval_constant(graph, n.input[1])
        assert shape is not None, f"{n.name}: shape is not constant"
        shape = [int(v) for v in np.asarray(shape).ravel()]
        assert len(shape) == 3 and shape[0] == 1 and shape[2] == -1, (n.name, shape)
        channels = shape[1]
        init_name = f"make_dynamic/reshape_shape_0_{channels}_m1"
        if init_name not in new_inits:
            new_inits[init_name] = numpy_helper.from_array(
                np.array([0, channels, -1], dtype=np.int64), init_name)
        n.input[1] = init_name
        print(f"  {n.name}: shape {shape} -> [0, {channels}, -1]")
    graph.initializer.extend(new_inits[k] for k in sorted(new_inits))


def remove_dead_code(graph):
    """Drop nodes and initializers that no graph output depends on."""
    needed = {o.name for o in graph.output}
    keep = []
    for n in reversed(graph.node):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    keep.reverse()
    dropped = [n for n in graph.node if n not in keep]
    for n in dropped:
        print(f"  drop node {n.op_type} {n.name}")
    del graph.node[:]
    graph.node.extend(keep)
    inits = [i for i in graph.initializer if i.name in needed]
    for i in graph.initializer:
        if i.name not in needed:
            print(f"  drop initializer {i.name}")
    del graph.initializer[:]
    graph.initializer.extend(inits)


def set_shape(value_info, dims):
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d


def output_strides(model):
    """Map each graph output to (stride, channels) via shape inference at 416."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    result = {}
    for o in inferred.graph.output:
        dims = [d.dim_value for d in o.type.tensor_type.shape.dim]
        assert len(dims) == 3 and dims[0] == 1 and dims[1] > 0, (o.name, dims)
        side = int(round(dims[1] ** 0.5))
        assert side * side == dims[1], (o.name, dims)
        stride = INPUT_HW // side
        assert stride in STRIDES and stride * side == INPUT_HW, (o.name, dims)
        result[o.name] = (stride, dims[1], dims[2])
    return result


def annotate_resize_batch(model):
    """Declare the Resize outputs as ["batch", C, h, w] in value_info.

    ONNX (and ONNX Runtime) shape inference turns a scaled dim into a fresh
    unknown, even for a scale of 1.0, so the batch dim of the four FPN Resize
    outputs loses its "batch" name.  ORT's NCHWc optimizer then cannot prove
    that both inputs of the two FPN Adds have the same shape and does not fuse
    those Adds into the preceding Conv (the optimized graph grows from 82 to 90
    nodes and batch 1 gets a few % slower).  The scales are constant
    [1, 1, s, s], so naming the batch dim is exact; with it ORT builds the same
    82-node graph as for the original model.
    """
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {v.name: v for v in inferred.graph.value_info}
    inits = {i.name: i for i in graph.initializer}
    del graph.value_info[:]
    for n in graph.node:
        if n.op_type != "Resize":
            continue
        scales = numpy_helper.to_array(inits[n.input[2]])
        assert scales.tolist()[:2] == [1.0, 1.0], (n.name, scales)
        vi = onnx.ValueInfoProto()
        vi.CopyFrom(shapes[n.output[0]])
        vi.type.tensor_type.shape.dim[0].Clear()
        vi.type.tensor_type.shape.dim[0].dim_param = "batch"
        for d in vi.type.tensor_type.shape.dim[2:]:
            if not d.HasField("dim_value"):
                d.Clear()                   # drop ORT-meaningless "unk__N" names
        graph.value_info.append(vi)
        print(f"  {n.output[0]}: {[d.dim_param or d.dim_value or '?' for d in vi.type.tensor_type.shape.dim]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="where to write the dynamic model")
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--dynamic-hw", action="store_true",
                    help="also make height/width symbolic (multiples of 32 only)")
    args = ap.parse_args()

    src_sha = check_source_hash(args.src)
    model = onnx.load(str(args.src))
    graph = model.graph
    assert [i.name for i in graph.input] == ["input_1:0"]
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, INPUT_HW, INPUT_HW], dims
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {13}

    print("fixing Reshape targets:")
    fix_head_reshapes(model)
    print("removing dead code:")
    remove_dead_code(graph)

    # Output shapes, inferred while the input is still [1, 3, 416, 416].
    for o in graph.output:
        o.type.tensor_type.ClearField("shape")   # unknown rank
    strides = output_strides(model)

    h, w = ("height", "width") if args.dynamic_hw else (INPUT_HW, INPUT_HW)
    set_shape(graph.input[0], ["batch", 3, h, w])
    for o in graph.output:
        stride, cells, channels = strides[o.name]
        n = f"cells_s{stride}" if args.dynamic_hw else cells
        set_shape(o, ["batch", n, channels])
        print(f"  output {o.name}: stride {stride} -> ['batch', {n!r}, {channels}]")

    print("annotating Resize outputs:")
    annotate_resize_batch(model)
    model.doc_string = (
        f"{model.doc_string}; make_dynamic.py: symbolic batch"
        f"{' and height/width' if args.dynamic_hw else ''}, head Reshape [1,C,-1] -> [0,C,-1]")
    del model.metadata_props[:]
    for key, value in (("wardwatch.source_sha256", src_sha),
                       ("wardwatch.transform", "models/make_dynamic.py"),
                       ("wardwatch.dynamic_hw", str(args.dynamic_hw).lower())):
        model.metadata_props.add(key=key, value=value)

    onnx.checker.check_model(model, full_check=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(model.SerializeToString())
    print(f"{sha256_of(args.out)}  {args.out}")


if __name__ == "__main__":
    main()
