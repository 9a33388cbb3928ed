"""Every long flag of every ``paddlegan`` sub-command: shown hyphenated, the underscore
spelling a hidden alias that parses to the same value; tools/main.py keeps PaddleGAN's."""
import argparse
import os
import subprocess
import sys

import pytest

from _helpers import ROOT, env
from ppgan_ext.cli import COMMANDS, build_parser
from ppgan_ext.flags.spelling import spellings


def _subparsers():
    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _value(action: argparse.Action) -> list:
    """Command-line words that give ``action`` a value other than its default."""
    if action.nargs == 0:
        return []
    if action.choices:
        word = next(str(c) for c in action.choices if c != action.default)
    elif action.type in (int, float) or action.metavar in ('N', 'M', 'DB', 'S', 'MB', 'Q'):
        word = '3'
    elif action.dest == 'opt':
        word = 'a=1'
    else:
        word = 'some_value'
    return [word]


def _required(parser, skip) -> list:
    words = []
    for action in parser._actions:
        if action is skip:
            continue
        if not action.option_strings and action.nargs != '?':
            words.append('x')
        elif action.required:
            words += [action.option_strings[-1]] + _value(action)
    return words


def _flags(parser):
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith('--') and len(set(spellings(option))) == 2:
                yield action, option


def test_every_flag_parses_in_both_spellings():
    checked = 0
    for command, parser in _subparsers().items():
        for action, option in _flags(parser):
            hyphens, underscores = spellings(option)
            assert option == hyphens, (command, option)   # shown hyphenated
            parsed = []
            for spelling in (hyphens, underscores):
                argv = _required(parser, action) + [spelling] + _value(action)
                args, unknown = parser.parse_known_args(argv)
                assert not unknown, (command, argv)
                parsed.append(vars(args))
            assert parsed[0] == parsed[1], (command, option)
            assert parsed[0][action.dest] != action.default, (command, option)
            checked += 1
    assert checked > 40


def test_help_shows_only_the_hyphenated_spelling():
    parsers = _subparsers()
    assert set(parsers) == set(COMMANDS)
    for command, parser in parsers.items():
        text = parser.format_help()
        assert '--model_dir' not in text and '--no_cuda' not in text, command
    assert '--model-dir DIR' in parsers['infer'].format_help()
    assert '--output-dir DIR' in parsers['export'].format_help()
    assert '--source-path' in parsers['train'].format_help()


def test_abbreviated_flag_is_not_ambiguous_between_its_spellings():
    args, _ = _subparsers()['stylize'].parse_known_args(
        ['--content', 'c', '--style', 's', '--style-si', '5'])
    assert args.style_size == 5


def test_tools_main_keeps_paddlegans_flags():
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'main.py'), '--help'],
                         capture_output=True, text=True, env=env(), timeout=120, check=True).stdout
    for flag in ('--profiler_options', '--source_path', '--reference_dir', '--model_path',
                 '--no-cuda', '--evaluate-only'):
        assert flag in out
    assert '--source-path' not in out and '--model-path' not in out


def test_one_device_flag_and_one_weights_flag_with_their_old_spellings(capsys):
    parsers = _subparsers()
    for command in ('train', 'eval', 'stylize', 'infer', 'serve'):
        parser = parsers[command]
        base = _required(parser, None)
        assert '--device' in parser.format_help() and '--no-cuda' not in parser.format_help()
        assert parser.parse_known_args(base + ['--device', 'gpu'])[0].device == 'gpu'
        capsys.readouterr()
        assert parser.parse_known_args(base + ['--no-cuda'])[0].device == 'cpu', command
        assert 'warning: --no-cuda is deprecated; use --device cpu' in capsys.readouterr().err
    stylize = parsers['stylize']
    base = _required(stylize, None)
    assert stylize.parse_known_args(base + ['--load', 'w.pdparams'])[0].weights == 'w.pdparams'
    assert stylize.parse_known_args(base + ['--weights', 'v.pdparams'])[0].weights == 'v.pdparams'
    assert 'warning: --weights is deprecated; use --load' in capsys.readouterr().err
    assert '--load WEIGHTS' in stylize.format_help() and '--weights' not in stylize.format_help()
    for command in ('train', 'eval', 'export'):
        assert '--load WEIGHTS' in parsers[command].format_help()
