"""The `paddlegan` console command: installed entry point, every sub-command's --help, list."""
import importlib.metadata
import os
import shutil
import subprocess
import sys

import pytest

from ppgan_ext.cli import COMMANDS, main

EXPECTED = {'train', 'eval', 'export', 'infer', 'stylize', 'degrade', 'list', 'serve',
            'quantize'}


def test_console_script_points_at_our_main():
    """ppgan declares a `paddlegan` script too (pointing at a missing module); ours must win."""
    eps = importlib.metadata.entry_points(group='console_scripts')
    (ep,) = [e for e in eps if e.name == 'paddlegan' and e.dist.name == 'ppgan-ext']
    assert ep.value.replace(' ', '') == 'ppgan_ext.cli:main'
    assert ep.load() is main


def test_all_subcommands_are_there():
    assert set(COMMANDS) == EXPECTED


@pytest.mark.parametrize('command', sorted(EXPECTED))
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, '--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f'usage: paddlegan {command}')
    assert len(out.splitlines()) > 4


@pytest.mark.e2e
def test_installed_command_runs_list():
    exe = shutil.which('paddlegan', path=os.path.dirname(sys.executable)) or \
        shutil.which('paddlegan')
    assert exe, 'the paddlegan console script is not installed'
    with open(exe) as f:
        assert 'ppgan_ext.cli' in f.read()
    out = subprocess.run([exe, 'list', '--ours'], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    for name in ('TransposeSRResNet', 'SaltPepperDataset', 'SRGANModel', 'LapStylePyramidModel',
                 'LapStyleContentStyleDataset', 'LocalVGGPerceptualLoss'):
        assert f'* {name}' in out


def test_list_marks_ours_and_shows_ppgan(capsys):
    assert main(['list', 'generators']) == 0
    out = capsys.readouterr().out
    assert '* TransposeSRResNet' in out and '  RRDBNet' in out and '* RRDBNet' not in out


def test_unknown_registry_is_one_line_error(capsys):
    assert main(['list', 'NOPE']) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown registry 'NOPE'") and err.count('\n') == 1


def test_no_command_prints_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert 'usage: paddlegan' in capsys.readouterr().err


def test_an_unknown_flag_shows_the_sub_commands_usage(capsys, tmp_path):
    from ppgan_ext.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(['degrade', str(tmp_path / 'src'), str(tmp_path / 'dst'), '--bogus', '1'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage: paddlegan degrade') and '--prob PROB' in err
    assert err.rstrip().endswith('paddlegan degrade: error: unrecognized arguments: --bogus 1')
    assert not (tmp_path / 'dst').exists()
