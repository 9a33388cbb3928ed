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


def test_the_folder_key_reaches_the_predictors_errors(tmp_path):
    """A folder read for `serve --sr-model` is named so by the backend that cannot run it."""
    import json

    from ppgan_ext.deploy.backends import create_predictor
    from ppgan_ext.deploy.model_dir import read_model_dir

    folder = tmp_path / 'broken'
    folder.mkdir()
    (folder / 'net.onnx').write_bytes(b'this is not an ONNX graph')
    (folder / 'ppgan_ext.json').write_text(json.dumps({
        'format': 'ppgan_ext.inference/1', 'kind': 'sr', 'model_file': None,
        'params_file': None, 'onnx_file': 'net.onnx',
        'inputs': [{'name': 'lq', 'shape': [-1, 3, -1, -1]}], 'scale': 2}))
    info = read_model_dir(str(folder), '--sr-model')
    assert info.key == '--sr-model'
    with pytest.raises(ValueError) as e:
        create_predictor(info, 'onnxruntime')
    assert str(e.value).startswith(f'--sr-model {folder}: ONNX Runtime cannot load'), e.value
