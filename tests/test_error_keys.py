"""Library errors name what the caller gave: the web app's flags, not another command's."""
import pytest

from ppgan_ext.cli import main


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, err
    return lines[0]


def test_serve_lapstyle_pattern_names_lapstyle(tmp_path, capsys):
    pattern = str(tmp_path / 'runs' / '*' / 'iter_*_weight.pdparams')
    assert main(['serve', '--lapstyle', pattern, '--port', '0']) == 2
    line = _error(capsys)
    assert line.startswith('error: --lapstyle') and pattern in line, line
    assert '--weights' not in line and '--load' not in line


@pytest.mark.parametrize('flag', ['--sr-model', '--upscale-model'])
def test_serve_model_folder_errors_name_the_serve_flag(flag, tmp_path, capsys):
    empty = tmp_path / 'empty_model'
    empty.mkdir()
    argv = ['serve', flag, str(empty), '--port', '0']
    if flag == '--upscale-model':
        argv += ['--lapstyle', str(tmp_path / 'none.pdparams')]
    assert main(argv) == 2
    line = _error(capsys)
    assert '--model-dir' not in line and '--upscale ' not in line, line
    assert line.startswith(f'error: {flag} {empty}'), line


def test_serve_lapstyle_folder_of_another_kind_names_lapstyle(tmp_path, capsys):
    folder = tmp_path / 'not_a_model'
    folder.mkdir()
    assert main(['serve', '--lapstyle', str(folder), '--port', '0']) == 2
    line = _error(capsys)
    assert line.startswith(f'error: --lapstyle {folder}') and '--model-dir' not in line, line
