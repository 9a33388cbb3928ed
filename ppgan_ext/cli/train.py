"""``paddlegan train``: the flags of PaddleGAN's ``tools/main.py``, ``--device`` for ``--no-cuda``.

``--no-cuda`` still works (deprecated: ``--device cpu``).
"""
from ..engine import run as _run
from ..flags.runtime import add_device_argument

HELP = 'train a model from a PaddleGAN config (same flags as tools/main.py)'


def add_arguments(parser):
    _run.add_arguments(parser, no_cuda=False)
    add_device_argument(parser)


def run(args) -> int:
    return _run.run(args)
