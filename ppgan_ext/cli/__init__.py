"""The ``paddlegan`` command: one sub-command per module of this package.

Each sub-command module defines ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Flags are shown hyphenated (``--model-dir``); the
underscore spelling (``--model_dir``) is a hidden alias
(:mod:`ppgan_ext.flags.spelling`).
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
    'quantize': 'quantize',
    'serve': 'ppgan_ext.serve.command',   # the web app's launcher lives with the web shell
}


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


_OWNERS = (('ppgan_ext', 'ppgan-ext'), ('ppgan', 'ppgan'), ('paddle', 'Paddle'))
_FRAMES = 3   # innermost frames shown for an error from library code


def _owner(filename: str):
    """``(owner, short path)`` of a source file: ppgan-ext, ppgan, Paddle or None."""
    parts = filename.replace('\\', '/').split('/')
    for package, owner in _OWNERS:
        if package in parts[:-1]:
            index = len(parts) - 1 - parts[::-1].index(package)
            return owner, '/'.join(parts[index:])
    return None, filename


def _frames(error: BaseException):
    """The traceback's frames, innermost last, as (owner, short path, line, function)."""
    import traceback

    return [(*_owner(f.filename), f.lineno, f.name)
            for f in traceback.extract_tb(error.__traceback__)]


def _message(error: BaseException) -> str:
    """The error's message on one line (Paddle's C++ summary reduced to its error line)."""
    text = str(error)
    if 'Error Message Summary' in text:
        text = text.split('Error Message Summary', 1)[1]
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip('-=')]
    return ' '.join(lines[:2]) if lines else type(error).__name__


class _NotLoaded(Exception):
    """Stands for an error class whose module was never imported (so nothing raised it)."""


def _loaded_class(module: str, name: str) -> type:
    """``ppgan_ext.<module>.<name>`` if that module is imported, else :class:`_NotLoaded`.

    Classifying an error must not import Paddle or ppgan (the modules that
    define these errors do): an error of a module never imported cannot occur.
    """
    loaded = sys.modules.get(f'ppgan_ext.{module}')
    return getattr(loaded, name, _NotLoaded) if loaded is not None else _NotLoaded


def report(error: BaseException) -> int:
    """Print ``error`` for a user and return the exit status.

    * config and input errors (ours, or a missing file): one ``error:`` line,
      exit 2;
    * a diverged training run: one line, exit 1;
    * anything raised by ppgan's or Paddle's code (or an unexpected error in
      ours): ``error: <who> raised <Type>: <message>`` and the innermost
      frames as ``file:line in function``, exit 1.
    """
    from ..zoo.download import WeightsCorrupt, WeightsUnavailable   # neither imports Paddle
    from ..zoo.registry import UnknownModel

    ConfigError = _loaded_class('config', 'ConfigError')
    TrainingDiverged = _loaded_class('engine.trainer', 'TrainingDiverged')
    WeightsMismatch = _loaded_class('engine.trainer', 'WeightsMismatch')

    cause = error
    while cause is not None and not isinstance(cause, (WeightsUnavailable, WeightsCorrupt)):
        cause = cause.__cause__ or cause.__context__   # ppgan's builders re-raise as RuntimeError
    if cause is not None:
        error = cause
    frames = _frames(error)
    owner = next((f[0] for f in reversed(frames) if f[0]), None)
    if isinstance(error, TrainingDiverged):
        print(f'error: {_message(error)}', file=sys.stderr)
        return 1
    input_errors = (CommandError, ConfigError, WeightsMismatch, WeightsUnavailable, WeightsCorrupt,
                    UnknownModel, FileNotFoundError, NotADirectoryError)
    if isinstance(error, input_errors) or (isinstance(error, ValueError)
                                           and owner in ('ppgan-ext', None)):
        print(f'error: {_message(error)}', file=sys.stderr)
        return 2
    who = owner or 'Python'
    print(f'error: {who} raised {type(error).__name__}: {_message(error)}', file=sys.stderr)
    for _, path, line, func in frames[-_FRAMES:]:
        print(f'  at {path}:{line} in {func}', file=sys.stderr)
    caller = next((f for f in reversed(frames[:-_FRAMES]) if f[0] and f[0] != owner), None)
    if caller is not None:   # where the library was called from: the model or our code
        print(f'  called from {caller[1]}:{caller[2]} in {caller[3]} ({caller[0]})',
              file=sys.stderr)
    print('  (set PPGAN_EXT_DEBUG=1 for the whole traceback)', file=sys.stderr)
    return 1


def _show_config_warnings() -> None:
    """Print ppgan-ext's config warnings as ``warning: ...`` lines (others unchanged)."""
    import warnings

    original = warnings.showwarning
    if getattr(original, '_ppgan_ext', False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, _loaded_class('config', 'ConfigWarning')):
            print(f'warning: {message}', file=file or sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    show._ppgan_ext = True
    warnings.showwarning = show


def guarded(func: Callable, args) -> int:
    """Run ``func(args)``; report failures as :func:`report` says.

    Set ``PPGAN_EXT_DEBUG=1`` to get the full traceback instead. Paddle's
    C++ log lines below errors are kept out (:func:`ppgan_ext.plugin.quiet_paddle_logs`).
    """
    from ..plugin import quiet_paddle_logs

    quiet_paddle_logs()
    _show_config_warnings()
    try:
        return func(args) or 0
    except Exception as e:
        if os.environ.get('PPGAN_EXT_DEBUG'):
            raise
        return report(e)


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The ``paddlegan`` parser, flags in both spellings; ``only``: that command alone.

    ``main`` builds the one command that argv names, so a command imports
    its own module and not every other command's (their imports cost about
    50 ms of a one-photo ``infer``).
    """
    from ..flags.spelling import FlagParser, respell

    parser = argparse.ArgumentParser(
        prog='paddlegan',
        description='PaddleGAN with ppgan-ext: train, evaluate, export, infer, stylize, degrade, '
                    'serve, list components.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=FlagParser)
    sub.required = True
    for command, module_name in COMMANDS.items():
        if only is not None and command != only:
            continue
        module = importlib.import_module(module_name if '.' in module_name
                                         else f'{__name__}.{module_name}')
        p = sub.add_parser(command, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        respell(p)
        p.set_defaults(func=module.run, command_parser=p)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    command = words[0] if words and words[0] in COMMANDS else None
    args, unknown = build_parser(command).parse_known_args(words)
    if unknown:   # reported with the sub-command's usage, not the top level's
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    del args.command_parser
    return guarded(args.func, args)


if __name__ == '__main__':
    sys.exit(main())
