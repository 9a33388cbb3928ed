"""``--backend`` / ``--precision``: the runtime options shared by the commands that run models.

Built from the backends and precisions :mod:`ppgan_ext.deploy.backends` knows, so that every
command offers the same choices.
"""
from ..deploy.backends import BACKENDS, PRECISIONS

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
