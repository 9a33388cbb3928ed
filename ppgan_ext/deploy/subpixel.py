"""ONNX graph rewrite for ONNX Runtime: transposed convolutions as sub-pixel convolutions.

ONNX Runtime's CPU provider runs ``ConvTranspose`` with a GEMM and a
col2im scatter, outside its blocked (NCHWc) convolution path, and keeps every
full-resolution activation of an upsampling net in memory: on the demo SR net
(32 features, x4, one 256x256 photo) the two transposed convolutions took
55 % of the run and the process touched 1.3 GB. A stride-``s`` transposed
convolution whose output is exactly ``s`` times its input is the same sum
as a stride-1 convolution with ``s * s`` times the output channels (one per
output phase) followed by ``DepthToSpace`` (CRD order), so the graph is
rewritten, in order:

1. ``Identity`` nodes are removed (paddle2onnx puts them between an op and
   its consumers).
2. A ``PRelu`` with one constant slope becomes ``LeakyRelu`` with that
   alpha (the same function), which ONNX Runtime fuses into the convolution
   before it.
3. Each ``ConvTranspose`` with constant weights, one group, no dilation,
   equal strides ``s >= 2`` and symmetric padding ``p`` whose output is
   ``s`` x its input (``kernel + output_padding - 2p == s``) becomes
   ``Conv`` (kernel spanning the input offsets every phase reads, zeros
   where a phase has no tap) + ``DepthToSpace(s, CRD)``.
4. A constant per-channel ``Add`` (the exported bias) after the
   ``DepthToSpace`` goes into the convolution's bias, and an activation
   (``LeakyRelu``, ``Relu``, ``PRelu`` with constant slopes) after it moves in
   front of it (per-channel values repeated ``s * s`` times), where
   ONNX Runtime fuses it into the convolution.
5. A ``Conv`` that reads a ``DepthToSpace`` output and has fewer output than
   input channels (the SR nets' output convolution) runs on the phases
   instead (``Conv`` over ``C * s * s`` channels, then ``DepthToSpace`` of
   its small output), so the full-resolution feature map is never built.

Steps 4 and 5 touch only ``DepthToSpace`` nodes in CRD order (the rewrite's own;
a DCR pixel shuffle elsewhere in the graph keeps its order). Every step computes the same
function; only the order of the float sums
changes (about 3e-6 on the demo net's output in [0, 1]). Graphs without a
transposed convolution are left alone. OpenVINO is not given the rewritten
graph: it ran the demo net's original graph faster (its own deconvolution
kernels are blocked already).
"""
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

__all__ = ['rewrite_model', 'rewrite_file']

_ACTIVATIONS = ('LeakyRelu', 'Relu', 'PRelu')


class _Graph:
    """Indexes of an ONNX ``GraphProto`` (producers, consumers, constants) kept up to date."""

    def __init__(self, graph):
        from onnx import numpy_helper

        self.g = graph
        self._to_array = numpy_helper.to_array
        self._from_array = numpy_helper.from_array
        self.outputs = {o.name for o in graph.output}
        self.inits = {i.name: i for i in graph.initializer}
        self.reindex()

    def reindex(self) -> None:
        self.producer = {o: n for n in self.g.node for o in n.output}
        self.consumers: Dict[str, list] = defaultdict(list)
        for n in self.g.node:
            for i in n.input:
                self.consumers[i].append(n)

    def const(self, name: str) -> Optional[np.ndarray]:
        """The value of a constant tensor (initializer or ``Constant``, through ``Reshape``)."""
        if name in self.inits:
            return self._to_array(self.inits[name])
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type == 'Constant':
            attr = {a.name: a for a in node.attribute}
            return self._to_array(attr['value'].t) if 'value' in attr else None
        if node.op_type == 'Reshape':   # a constant reshaped by a constant shape
            base, target = self.const(node.input[0]), self.const(node.input[1])
            if base is None or target is None:
                return None
            return base.reshape([d if d != 0 else base.shape[i]
                                 for i, d in enumerate(target.tolist())])
        return None

    def add_const(self, name: str, value: np.ndarray) -> str:
        """Add an initializer named ``name`` (made unique); returns the name used."""
        base, k = name, 1
        while name in self.inits or name in self.producer:
            name, k = f'{base}_{k}', k + 1
        self.g.initializer.append(self._from_array(np.ascontiguousarray(value), name))
        self.inits[name] = self.g.initializer[-1]
        return name

    def sole_consumer(self, name: str):
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def replace(self, old, new_nodes: List) -> None:
        nodes = list(self.g.node)
        at = nodes.index(old)
        del self.g.node[:]
        self.g.node.extend(nodes[:at] + list(new_nodes) + nodes[at + 1:])
        self.reindex()

    def remove(self, node) -> None:
        self.g.node.remove(node)
        self.reindex()

    def rename_input(self, old: str, new: str) -> None:
        for n in self.g.node:
            for k, i in enumerate(n.input):
                if i == old:
                    n.input[k] = new


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _drop_identities(gr: _Graph) -> None:
    alias = {}
    for n in list(gr.g.node):
        if n.op_type == 'Identity' and n.output[0] not in gr.outputs:
            alias[n.output[0]] = n.input[0]
            gr.g.node.remove(n)
    for n in gr.g.node:
        for k, name in enumerate(n.input):
            while name in alias:
                name = alias[name]
            n.input[k] = name
    gr.reindex()


def _prelu_to_leaky(gr: _Graph) -> None:
    from onnx import helper

    for n in gr.g.node:
        if n.op_type == 'PRelu':
            slope = gr.const(n.input[1])
            if slope is not None and slope.size == 1:
                n.op_type = 'LeakyRelu'
                del n.input[1:]
                n.attribute.append(helper.make_attribute('alpha', float(slope.ravel()[0])))
    gr.reindex()


def _subpixel_conv(gr: _Graph, node) -> bool:
    """``ConvTranspose`` -> ``Conv`` + ``DepthToSpace`` when it is an exact x s upsampler."""
    from onnx import helper

    a = _attrs(node)
    weight = gr.const(node.input[1])
    if weight is None or weight.ndim != 4 or a.get('group', 1) != 1 \
            or a.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET') or 'output_shape' in a:
        return False
    k = weight.shape[2]
    strides, pads = a.get('strides', [1, 1]), a.get('pads', [0, 0, 0, 0])
    out_pad = a.get('output_padding', [0, 0])
    s = strides[0]
    if weight.shape[3] != k or list(strides) != [s, s] or s < 2 or len(set(pads)) != 1 \
            or len(set(out_pad)) != 1 or any(d != 1 for d in a.get('dilations', [1, 1])):
        return False
    p, op = pads[0], out_pad[0]
    if k + op - 2 * p != s:
        return False
    bias = gr.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    cin, cout = weight.shape[:2]
    # output row s*i + phase reads input row i + d with kernel tap phase + p - s*d
    offsets = [d for phase in range(s) for d in range(-k, k + 1) if 0 <= phase + p - s * d < k]
    lo, hi = min(offsets), max(offsets)
    span = hi - lo + 1
    kernel = np.zeros((cout, s, s, cin, span, span), np.float32)
    for py in range(s):
        for dy in range(lo, hi + 1):
            ky = py + p - s * dy
            if not 0 <= ky < k:
                continue
            for px in range(s):
                for dx in range(lo, hi + 1):
                    kx = px + p - s * dx
                    if 0 <= kx < k:
                        kernel[:, py, px, :, dy - lo, dx - lo] = weight[:, :, ky, kx].T
    out = node.output[0]
    inputs = [node.input[0], gr.add_const(out + '__subpixel_w',
                                          kernel.reshape(cout * s * s, cin, span, span))]
    if bias is not None:
        inputs.append(gr.add_const(out + '__subpixel_b', np.repeat(bias.astype(np.float32), s * s)))
    conv = helper.make_node('Conv', inputs, [out + '__phases'], kernel_shape=[span, span],
                            pads=[-lo, -lo, hi, hi], strides=[1, 1], dilations=[1, 1], group=1)
    d2s = helper.make_node('DepthToSpace', [out + '__phases'], [out], blocksize=s, mode='CRD')
    gr.replace(node, [conv, d2s])
    return True


def _per_channel(value: Optional[np.ndarray], channels: int) -> Optional[np.ndarray]:
    """A constant broadcast over N, H, W as one value per channel (None if it is not one)."""
    if value is None:
        return None
    if value.size == 1:
        return np.full(channels, value.ravel()[0], np.float32)
    shape = list(value.shape)
    while shape and shape[0] == 1 and len(shape) > 3:
        shape.pop(0)
    if len(shape) == 3 and shape[0] == channels and shape[1:] == [1, 1]:
        return value.reshape(channels).astype(np.float32)
    return None


def _is_crd(d2s) -> bool:
    """A ``DepthToSpace`` in CRD order (the channel of output phase p of channel c is c*s*s + p)."""
    mode = _attrs(d2s).get('mode', b'DCR')
    return (mode.decode() if isinstance(mode, bytes) else mode) == 'CRD'


def _move_before_d2s(gr: _Graph, d2s) -> bool:
    """Fold a bias ``Add`` into the phase conv, or move an activation in front of ``d2s``."""
    from onnx import helper

    if not _is_crd(d2s):
        return False
    conv = gr.producer.get(d2s.input[0])
    nxt = gr.sole_consumer(d2s.output[0])
    if conv is None or conv.op_type != 'Conv' or nxt is None \
            or gr.sole_consumer(conv.output[0]) != d2s:
        return False
    s = _attrs(d2s)['blocksize']
    weight = gr.const(conv.input[1])
    if weight is None:
        return False
    channels = weight.shape[0] // (s * s)
    if nxt.op_type == 'Add' and len(nxt.input) == 2:
        other = [i for i in nxt.input if i != d2s.output[0]]
        bias = _per_channel(gr.const(other[0]), channels) if len(other) == 1 else None
        if bias is None or nxt.output[0] in gr.outputs:
            return False
        old = gr.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else 0.0
        name = gr.add_const(conv.output[0] + '__bias', old + np.repeat(bias, s * s))
        if len(conv.input) > 2:
            conv.input[2] = name
        else:
            conv.input.append(name)
        gr.rename_input(nxt.output[0], d2s.output[0])
        gr.remove(nxt)
        return True
    if nxt.op_type in _ACTIVATIONS and nxt.output[0] not in gr.outputs:
        act = helper.make_node(nxt.op_type, [conv.output[0]], [conv.output[0] + '__act'],
                               name=nxt.name)
        act.attribute.extend(nxt.attribute)
        if nxt.op_type == 'PRelu':
            slope = _per_channel(gr.const(nxt.input[1]), channels)
            if slope is None:
                return False
            act.input.append(gr.add_const(conv.output[0] + '__slope',
                                          np.repeat(slope, s * s).reshape(-1, 1, 1)))
        d2s.input[0] = act.output[0]
        gr.rename_input(nxt.output[0], d2s.output[0])
        gr.g.node.remove(nxt)
        gr.replace(d2s, [act, d2s])
        return True
    return False


def _conv_on_phases(gr: _Graph, d2s) -> bool:
    """A channel-reducing ``Conv`` after ``d2s`` computed on the phases, then ``DepthToSpace``."""
    from onnx import helper

    conv = gr.sole_consumer(d2s.output[0])
    if conv is None or conv.op_type != 'Conv' or not _is_crd(d2s):
        return False
    a = _attrs(conv)
    weight = gr.const(conv.input[1])
    if weight is None or weight.ndim != 4 or a.get('group', 1) != 1 \
            or any(v != 1 for v in a.get('strides', [1, 1]) + a.get('dilations', [1, 1])) \
            or a.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        return False
    cout, cin, k, kw = weight.shape
    pads = a.get('pads', [0, 0, 0, 0])
    if kw != k or len(set(pads)) != 1 or 2 * pads[0] != k - 1 or cout >= cin:
        return False
    p, s = pads[0], _attrs(d2s)['blocksize']
    # output phase py at row i reads full-resolution row s*i + py - p + ky = s*(i + d) + phase
    offsets = [(py - p + ky) // s for py in range(s) for ky in range(k)]
    lo, hi = min(offsets), max(offsets)
    span = hi - lo + 1
    kernel = np.zeros((cout, s, s, cin, s, s, span, span), np.float32)
    for py in range(s):
        for ky in range(k):
            dy, qy = divmod(py - p + ky, s)
            for px in range(s):
                for kx in range(k):
                    dx, qx = divmod(px - p + kx, s)
                    kernel[:, py, px, :, qy, qx, dy - lo, dx - lo] = weight[:, :, ky, kx]
    out = conv.output[0]
    inputs = [d2s.input[0], gr.add_const(out + '__phase_w', kernel.reshape(
        cout * s * s, cin * s * s, span, span))]
    bias = gr.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
    if bias is not None:
        inputs.append(gr.add_const(out + '__phase_b', np.repeat(bias.astype(np.float32), s * s)))
    phase_conv = helper.make_node('Conv', inputs, [out + '__phases'], kernel_shape=[span, span],
                                  pads=[-lo, -lo, hi, hi], strides=[1, 1], dilations=[1, 1],
                                  group=1)
    new_d2s = helper.make_node('DepthToSpace', [out + '__phases'], [out], blocksize=s,
                               mode='CRD')
    gr.remove(d2s)
    gr.replace(conv, [phase_conv, new_d2s])
    return True


def _sort(gr: _Graph) -> None:
    """Topological order, stable (the rewrites keep producers first; this makes sure)."""
    ready = {i.name for i in gr.g.input} | set(gr.inits) | {''}
    nodes, ordered = list(gr.g.node), []
    while nodes:
        for k, n in enumerate(nodes):
            if all(i in ready for i in n.input):
                ordered.append(nodes.pop(k))
                ready.update(n.output)
                break
        else:
            raise ValueError('the rewritten graph has a cycle or a missing input')
    del gr.g.node[:]
    gr.g.node.extend(ordered)
    gr.reindex()


def rewrite_model(model) -> int:
    """Rewrite an ``onnx.ModelProto`` in place (see the module docstring).

    Returns:
        int: How many transposed convolutions were rewritten (0: the model
        is left as it was).
    """
    if not any(n.op_type == 'ConvTranspose' for n in model.graph.node):
        return 0
    work = type(model.graph)()
    work.CopyFrom(model.graph)
    count = _rewrite_graph(work)
    if count:
        model.graph.CopyFrom(work)
    return count


def _rewrite_graph(graph) -> int:
    gr = _Graph(graph)
    _drop_identities(gr)
    _prelu_to_leaky(gr)
    count = sum(_subpixel_conv(gr, n) for n in [n for n in gr.g.node
                                                 if n.op_type == 'ConvTranspose'])
    if not count:
        return 0
    _settle(gr)
    for n in [n for n in gr.g.node if n.op_type == 'DepthToSpace']:
        if n in gr.g.node:
            _conv_on_phases(gr, n)
    _settle(gr)
    _sort(gr)
    # what is no longer read goes (ONNX Runtime warns about each unused constant)
    while True:
        used = {i for n in gr.g.node for i in n.input} | gr.outputs
        dead = [n for n in gr.g.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            gr.g.node.remove(n)
    keep = [i for i in gr.g.initializer if i.name in used]
    del gr.g.initializer[:]
    gr.g.initializer.extend(keep)
    gr.reindex()
    return count


def _settle(gr: _Graph) -> None:
    """Apply :func:`_move_before_d2s` until nothing moves."""
    changed = True
    while changed:
        changed = any(_move_before_d2s(gr, n) for n in list(gr.g.node)
                      if n.op_type == 'DepthToSpace')


def rewrite_file(src: str, dst: str) -> int:
    """Rewrite the ONNX file ``src`` into ``dst`` atomically; the count of :func:`rewrite_model`.

    Nothing is written when the graph has nothing to rewrite.
    """
    import onnx

    from ..utils import atomic_write

    model = onnx.load(src)
    count = rewrite_model(model)
    if count:
        onnx.checker.check_model(model)
        atomic_write(dst, lambda tmp: onnx.save(model, tmp))
    return count
