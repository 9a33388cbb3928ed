"""``--device``, ``--backend`` / ``--precision``: the runtime options shared by the commands.

Built from the backends and precisions :mod:`ppgan_ext.deploy.backends` knows, so that every
command offers the same choices. ``--device`` is the one device flag of every command that
runs a model; ``--no-cuda`` (PaddleGAN's ``tools/main.py`` flag) is its deprecated alias.
"""
from ..deploy.backends import BACKENDS, PRECISIONS
from .spelling import DeprecatedFlag

DEVICES = ('auto', 'cpu', 'gpu')

PRECISION_HELP = ('fp32 (default), bf16 (openvino, CPUs with AMX/AVX-512 BF16) or int8 '
                  '(openvino, a folder quantized by `paddlegan quantize`)')


def add_runtime_arguments(parser, of: str, prefix: str = '', dygraph: bool = True) -> None:
    """Add ``--{prefix}backend`` and ``--{prefix}precision`` to ``parser`` (or a group).

    Args:
        parser: An argparse parser or argument group.
        of (str): What they apply to, for the help text (e.g. ``'--model-dir'``).
        prefix (str): Flag prefix (``'upscale-'`` gives ``--upscale-backend``). Default: ''.
        dygraph (bool): Offer ``dygraph`` (Paddle's dynamic graph, for ``--model``).
            Default: True.
    """
    choices = ('auto',) + BACKENDS + (('dygraph',) if dygraph else ())
    extra = "; dygraph: --model on Paddle's dynamic graph" if dygraph else ''
    parser.add_argument(f'--{prefix}backend', default='auto', choices=choices,
                        help=f'runtime of {of} (default auto: the fastest installed{extra})')
    parser.add_argument(f'--{prefix}precision', default='fp32', choices=PRECISIONS,
                        help=f'precision of {of}: {PRECISION_HELP}')


def add_device_argument(parser, default: str = 'auto') -> None:
    """Add ``--device {auto,cpu,gpu}`` and the deprecated ``--no-cuda`` (``--device cpu``).

    Args:
        parser: An argparse parser or argument group.
        default (str): ``'auto'`` (the GPU when Paddle is compiled with CUDA, else the CPU)
            or ``'cpu'``. Default: 'auto'.
    """
    what = {'auto': 'auto: gpu when Paddle is compiled with CUDA, else cpu',
            'cpu': 'cpu'}[default]
    parser.add_argument('--device', choices=DEVICES, default=default,
                        help=f'where Paddle runs (default {what}; gpu needs paddlepaddle-gpu)')
    parser.add_argument('--no-cuda', dest='device', action=DeprecatedFlag, nargs=0,
                        const='cpu', use='--device cpu')


def resolve_device(device: str) -> str:
    """``'cpu'`` or ``'gpu'`` for a ``--device`` value (``'auto'`` asks the installed Paddle)."""
    from ..deploy.backends import paddle_cuda_build

    if device == 'auto':
        return 'gpu' if paddle_cuda_build() else 'cpu'
    return device
