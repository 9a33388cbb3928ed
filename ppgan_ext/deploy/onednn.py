"""The oneDNN rules of Paddle Inference on CPU for this package's nets.

Paddle Inference 3.3.1 turns oneDNN on by default on CPU, and two of its
passes break nets of this package's kind (found by deleting candidate passes
one at a time, each try in its own process; ``tools/onednn_probe.py`` repeats
the search):

* ``conv_activation_onednn_fuse_pass`` (PIR name
  ``conv_activation_mkldnn_fuse_pass``) SEGFAULTS while building the fused
  ``onednn_op.fused_conv2d`` when a conv is followed by ``leaky_relu``
  (``pir::FloatAttribute::data()`` on the slope, which a PIR ``.json`` model
  stores as a double). Every ppgan net with LeakyReLU after a conv (ESRGAN's
  RRDBNet, the discriminators) takes the process down. ReLU, PReLU, ELU,
  GELU, Swish, Mish, sigmoid, tanh, hard-swish, hard-sigmoid and ReLU6 fuse
  correctly. Deleted only when the graph contains ``leaky_relu``.
* ``onednn_placement_pass`` moves every op that has a oneDNN kernel onto
  oneDNN. (a) Any ``*_interp`` op (``F.interpolate``, ``nn.Upsample``: the
  ``global_residual`` option of ``TransposeSRResNet``, LapStyle's pyramid)
  then fails on the first run with ``NotImplementedError:
  ConvertPirAttribute2RuntimeAttribute not support
  [pir::ArrayAttribute<pir::DoubleAttribute>]``; (b) oneDNN's ``prelu``
  kernel is about 25x slower than Paddle's own (85 % of the run time of
  SRResNet-style nets). Deleted when the graph contains an ``*_interp`` or a
  ``prelu`` op. The conv fusions (conv + bias + BatchNorm + residual add,
  which are the oneDNN speed-up, ~4.5x over Paddle's im2col conv) run before
  placement and are kept.

Everything else stays as Paddle ships it.
:func:`ppgan_ext.deploy.backends.paddle.build_config` applies this policy;
the test suite runs such predictors in child processes so that a regression
shows up as a failed test instead of a dead test runner.
"""
import json
from typing import Iterable, List, Set, Tuple

__all__ = ['ONEDNN_WORKAROUNDS', 'graph_ops', 'onednn_passes_to_delete']

_INTERP_OPS = ('nearest_interp', 'bilinear_interp', 'bicubic_interp', 'linear_interp',
               'trilinear_interp', 'nearest_interp_v2', 'bilinear_interp_v2',
               'bicubic_interp_v2', 'linear_interp_v2', 'trilinear_interp_v2')

# (ops that trigger it, pass to delete, why). Pass names are the ones
# ``Config.delete_pass`` takes (``config.pass_builder().all_passes()``).
ONEDNN_WORKAROUNDS: Tuple[Tuple[Tuple[str, ...], str, str], ...] = (
    (('leaky_relu',), 'conv_activation_onednn_fuse_pass',
     'segfault building onednn fused_conv2d for conv + leaky_relu'),
    (_INTERP_OPS, 'onednn_placement_pass',
     'oneDNN interp kernels fail: ArrayAttribute<DoubleAttribute> not supported'),
    (('prelu',), 'onednn_placement_pass', 'oneDNN prelu kernel ~25x slower than native'),
)


def graph_ops(model_file: str) -> Set[str]:
    """Names of the operators in a saved graph (``.json`` PIR or ``.pdmodel``), no dialect."""
    if model_file.endswith('.pdmodel'):
        from paddle.base.proto import framework_pb2

        with open(model_file, 'rb') as f:
            program = framework_pb2.ProgramDesc.FromString(f.read())
        return {op.type for block in program.blocks for op in block.ops}
    with open(model_file, 'r', encoding='utf-8') as f:
        program = json.load(f)
    names: Set[str] = set()
    stack = [program]
    while stack:  # PIR json: operations are {"#": "<dialect>.<name>", ...} in "ops" lists
        node = stack.pop()
        if isinstance(node, dict):
            for op in node.get('ops', ()) if isinstance(node.get('ops'), list) else ():
                if isinstance(op, dict) and '.' in str(op.get('#', '')):
                    names.add(str(op['#']).split('.', 1)[1])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def onednn_passes_to_delete(ops: Iterable[str]) -> List[str]:
    """The oneDNN passes that must go for a graph with these ops (see module docstring)."""
    ops = set(ops)
    passes: List[str] = []
    for triggers, name, _ in ONEDNN_WORKAROUNDS:
        if ops.intersection(triggers) and name not in passes:
            passes.append(name)
    return passes
