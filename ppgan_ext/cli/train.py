"""``paddlegan train``: the same flags as PaddleGAN's ``tools/main.py``."""
from ..engine import run as _run

HELP = 'train a model from a PaddleGAN config (same flags as tools/main.py)'


def add_arguments(parser):
    _run.add_arguments(parser)


def run(args) -> int:
    return _run.run(args)
