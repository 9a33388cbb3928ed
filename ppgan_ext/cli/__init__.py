"""The ``paddlegan`` command: one sub-command per module of this package.

Each sub-command module defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.
"""
import argparse
import importlib
import os
import sys
from typing import Callable, List, Optional

# sub-command -> module in ppgan_ext.cli
COMMANDS = {
    'train': 'train',
    'eval': 'evaluate',
    'list': 'list_components',
    'degrade': 'degrade',
    'stylize': 'stylize',
    'export': 'export',
    'infer': 'infer',
    'serve': 'serve',
}


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def guarded(func: Callable, args) -> int:
    """Run ``func(args)``; turn expected failures into one ``error:`` line.

    Set ``PPGAN_EXT_DEBUG=1`` to get the full traceback instead.
    """
    from ..config import ConfigError
    from ..engine.trainer import TrainingDiverged

    expected = (CommandError, ConfigError, FileNotFoundError, NotADirectoryError,
                ValueError, TrainingDiverged)
    try:
        return func(args) or 0
    except expected as e:
        if os.environ.get('PPGAN_EXT_DEBUG'):
            raise
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f'error: {msg}', file=sys.stderr)
        return 1 if isinstance(e, TrainingDiverged) else 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='paddlegan',
        description='PaddleGAN with ppgan-ext: train, evaluate, export, infer, stylize, degrade, '
                    'serve, list components.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for command, module_name in COMMANDS.items():
        module = importlib.import_module(f'{__name__}.{module_name}')
        p = sub.add_parser(command, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return guarded(args.func, args)


if __name__ == '__main__':
    sys.exit(main())
