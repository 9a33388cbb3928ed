"""The sidecar ppgan_ext.json: one typed schema, unknown keys kept, one line per bad entry."""
import json
import os

import pytest

from ppgan_ext.deploy.model_dir import read_model_dir
from ppgan_ext.deploy.sidecar import SIDECAR_NAME, Sidecar, read_sidecar, write_sidecar

BASE = {'format': 'ppgan_ext.inference/1', 'kind': 'sr', 'formats': ['onnx'],
        'model_file': None, 'params_file': None, 'onnx_file': 'net.onnx',
        'inputs': [{'name': 'lq', 'shape': [-1, 3, -1, -1]}], 'scale': 4, 'in_channels': 3,
        'out_channels': 3, 'channel_order': 'RGB', 'value_range': [0.0, 1.0]}


def _folder(tmp_path, data):
    (tmp_path / 'net.onnx').write_bytes(b'not read here')
    (tmp_path / SIDECAR_NAME).write_text(json.dumps(data))
    return str(tmp_path)


def test_round_trip_keeps_unknown_keys(tmp_path):
    data = dict(BASE, levels=2, semantics='exact', from_a_newer_version={'x': [1, 2]})
    folder = _folder(tmp_path, data)
    sidecar = read_sidecar(folder)
    assert sidecar.scale == 4 and sidecar.levels == 2 and sidecar.value_range == (0.0, 1.0)
    assert sidecar.extra == {'from_a_newer_version': {'x': [1, 2]}}
    assert sidecar.get('from_a_newer_version') == {'x': [1, 2]} and sidecar.get('net') is None
    assert sidecar['levels'] == 2 and 'semantics' in sidecar and 'net' not in sidecar
    with pytest.raises(KeyError):
        sidecar['net']
    write_sidecar(folder, sidecar)
    again = json.loads((tmp_path / SIDECAR_NAME).read_text())
    assert again['from_a_newer_version'] == {'x': [1, 2]} and again['levels'] == 2
    assert {k: again[k] for k in BASE} == BASE
    info = read_model_dir(folder)
    assert info.scale == 4 and info.onnx_file == os.path.join(folder, 'net.onnx')
    assert info.sidecar.semantics == 'exact'


@pytest.mark.parametrize('key,value,expected', [
    ('scale', '4', "scale: expected an integer, got '4'"),
    ('scale', 0, 'scale: must be >= 1, got 0'),
    ('levels', 1.5, 'levels: expected an integer, got 1.5'),
    ('channel_order', 'YUV', "channel_order must be 'RGB' or 'BGR'"),
    ('inputs', [], 'inputs: must be a list of {name, shape}'),
    ('value_range', [0, 1, 2], 'value_range: expected [low, high]'),
    ('int8', {'quantizer': 'nncf'}, "int8: must be a record with an 'onnx_file'"),
    ('formats', ['tflite'], "formats: expected a subset of ['paddle', 'onnx']"),
])
def test_a_bad_value_is_one_line_naming_file_and_key(tmp_path, key, value, expected):
    folder = _folder(tmp_path, dict(BASE, **{key: value}))
    with pytest.raises(ValueError) as e:
        read_model_dir(folder)
    message = str(e.value)
    assert message.startswith(os.path.join(folder, SIDECAR_NAME) + ': ') and expected in message
    assert '\n' not in message


def test_missing_keys_and_other_formats_are_refused(tmp_path):
    with pytest.raises(ValueError, match="missing key 'inputs'"):
        Sidecar.from_dict({k: v for k, v in BASE.items() if k != 'inputs'}, 'f.json')
    with pytest.raises(ValueError, match='not a ppgan_ext.inference/1 sidecar'):
        Sidecar.from_dict(dict(BASE, format='other/2'), 'f.json')
    with pytest.raises(ValueError, match='names no model'):
        Sidecar.from_dict(dict(BASE, onnx_file=None), 'f.json')
