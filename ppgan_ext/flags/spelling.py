"""Flags shown with hyphens, the underscore spelling kept as a hidden alias.

Every long option of a ``paddlegan`` sub-command is shown as ``--model-dir``;
``--model_dir`` parses to the same destination but is not listed in ``--help``.
It works for any option, whichever way its module spelt it, so flags added
later get both spellings without a line of their own.
(PaddleGAN's ``tools/main.py`` builds its own plain parser: its flags stay as
PaddleGAN spells them.)
"""
import argparse
from typing import List, Tuple


def spellings(option: str) -> Tuple[str, str]:
    """``(shown, alias)`` of a long option: the hyphenated and the underscore spelling.

    Args:
        option (str): A long option string such as ``'--model_dir'`` or ``'--tile-overlap'``.

    Returns:
        tuple[str, str]: e.g. ``('--model-dir', '--model_dir')``; both equal ``option``
        when it has neither ``-`` nor ``_`` after its leading ``--``.
    """
    name = option[2:]
    return '--' + name.replace('_', '-'), '--' + name.replace('-', '_')


def respell(parser: argparse.ArgumentParser) -> None:
    """Show ``parser``'s long options hyphenated and accept their underscore spelling too.

    Idempotent; argument groups share the parser's option table, so their
    options are covered. An alias already taken by another option is left to it.
    """
    table = parser._option_string_actions
    for action in parser._actions:
        shown: List[str] = []
        for option in action.option_strings:
            hyphens, underscores = spellings(option) if option.startswith('--') else (option,) * 2
            if table.setdefault(hyphens, action) is not action:
                hyphens = option   # that spelling belongs to another option
            table.setdefault(underscores, action)
            if hyphens not in shown:
                shown.append(hyphens)
        action.option_strings = shown


class FlagParser(argparse.ArgumentParser):
    """An ArgumentParser whose long options parse in both spellings (see :func:`respell`).

    The options are respelt when the parser is used (parsing, usage, help), so
    options added at any time are covered.
    """

    def parse_known_args(self, args=None, namespace=None):
        respell(self)
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        respell(self)
        return super().format_usage()

    def format_help(self) -> str:
        respell(self)
        return super().format_help()

    def _get_option_tuples(self, option_string):
        """Abbreviations: the two spellings of one option are one match, not an ambiguity."""
        found, actions = [], []
        for match in super()._get_option_tuples(option_string):
            if match[0] not in actions:
                actions.append(match[0])
                found.append(match)
        return found


class DeprecatedFlag(argparse.Action):
    """A hidden old flag that still works: it sets ``dest`` and prints which flag to use.

    Args:
        use (str): The flag to use instead, for the warning (e.g. ``'--device cpu'``).
        const: With ``nargs=0``, the value stored (a switch such as ``--no-cuda``).
    """

    def __init__(self, option_strings, dest, use: str, nargs=None, const=None, **kwargs):
        kwargs.setdefault('default', argparse.SUPPRESS)   # the new flag's default stands
        super().__init__(option_strings, dest, nargs=nargs, const=const,
                         help=argparse.SUPPRESS, **kwargs)
        self.use = use

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(f'warning: {option_string} is deprecated; use {self.use}', file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
