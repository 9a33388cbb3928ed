"""ONNX export: every SR option, the pyramid resizes, nets we do not own, formats, failures."""
import json
import os
import shutil

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from _export_helpers import (dygraph_net, dygraph_run, error_lines, nets_only_model_class,
                             save_weights, sr_config)
from ppgan_ext.config import load_config
from ppgan_ext.deploy.backends import create_predictor
from ppgan_ext.deploy.export import EXPORTERS, ExportSpec, export_model, register_exporter
from ppgan_ext.deploy.onnx_convert import OnnxConversionError
from ppgan_ext.pyramid import (pyr_down, pyr_up, resample, scaled_size, spatial_size,
                               upsample_nearest2x)

SR_OPTIONS = {
    'bn_transpose': dict(),
    'none_deconv4_global_residual': dict(norm='none', deconv_kernel=4, global_residual=True),
    'pixelshuffle': dict(upsampler='pixelshuffle'),
    'x2_global_residual_pixelshuffle': dict(scale=2, norm='none', upsampler='pixelshuffle',
                                            global_residual=True),
    # ppgan's ESRGAN generator: number scale_factor nearest resizes + LeakyReLU
    'ppgan_rrdbnet': dict(name='RRDBNet', in_nc=3, out_nc=3, nf=8, nb=1),
}
BACKENDS = ('onnxruntime', 'openvino')


@pytest.mark.parametrize('option', sorted(SR_OPTIONS))
def test_sr_options_export_to_onnx_and_match_in_every_backend(option, tmp_path):
    config = sr_config(str(tmp_path / 'c.yaml'), **SR_OPTIONS[option])
    weights = save_weights(config, str(tmp_path / 'w.pdparams'), seed=4)
    out = str(tmp_path / 'model')
    report = export_model(load_config(config), str(tmp_path / 'w.pdparams'), out,
                          parity_sizes=[(16, 16), (9, 13), (21, 10)])
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['formats'] == ['paddle', 'onnx'] and meta['onnx_opset'] == 17
    assert meta['onnx_parity']['sizes'] == [[16, 16], [9, 13], [21, 10]]
    assert report.onnx_max_abs_diff == meta['onnx_parity']['max_abs_diff'] < 1e-4
    x = np.random.default_rng(1).random((1, 3, 11, 19), dtype=np.float32)
    ref = dygraph_run(dygraph_net(config, weights), x)
    assert np.abs(ref).max() > 0.05  # not a trivial output
    for backend in BACKENDS:
        predictor = create_predictor(out, backend, threads=1)
        assert (predictor.backend, predictor.precision) == (backend, 'fp32')
        got = predictor(x)
        assert got.shape == ref.shape, backend
        assert np.abs(got - ref).max() < 1e-4, backend


def _half(x):
    size = spatial_size(x)
    return [size[0] // 2, size[1] // 2] if paddle.in_dynamic_mode() else size // 2


RESIZES = {
    # ppgan semantics: bilinear align_corners=False down to n // 2 and up to an odd size
    'bilinear_down_half': lambda x: resample(x, _half(x)),
    'bilinear_up_odd': lambda x: resample(x, scaled_size(x, 2, 1)),
    'bilinear_down_up': lambda x: resample(resample(x, _half(x)), spatial_size(x)),
    'nearest_x2': upsample_nearest2x,
    # exact semantics
    'pyr_down_up': lambda x: pyr_up(pyr_down(x), spatial_size(x)),
}


class _Resize(nn.Layer):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.conv = nn.Conv2D(3, 3, 1)

    def forward(self, x):
        return self.fn(self.conv(x))


def _export_layer(layer, out, name, sizes, formats=('paddle', 'onnx')):
    """Export ``layer`` (one (1, 3, H, W) input) through export_model's registry hook."""
    model = nets_only_model_class()()
    model.nets['net'] = layer
    layer.eval()

    def exporter(model, cfg, options, inputs_size):
        return ExportSpec(layer=model.nets['net'],
                          input_specs=[paddle.static.InputSpec([1, 3, None, None], 'float32',
                                                               'x')],
                          kind='sr', name=name, nets=['net'])

    register_exporter(type(model).__name__)(exporter)
    try:
        return export_model({'model': {'name': type(model).__name__}}, None, out, model=model,
                            parity_sizes=sizes, formats=formats)
    finally:
        del EXPORTERS[type(model).__name__]


@pytest.mark.parametrize('resize', sorted(RESIZES))
def test_pyramid_resizes_convert_at_odd_sizes(resize, tmp_path):
    """Every resize the LapStyle pyramids use converts to ONNX, odd sizes included."""
    paddle.seed(0)
    layer = _Resize(RESIZES[resize])
    out = str(tmp_path / 'm')
    sizes = [(9, 13), (17, 11), (32, 30)]
    report = _export_layer(layer, out, resize, sizes)
    assert report.onnx_max_abs_diff < 1e-5 and report.max_abs_diff < 1e-5
    x = np.random.default_rng(2).random((1, 3, 15, 7), dtype=np.float32)
    ref = dygraph_run(layer, x)
    for backend in BACKENDS:
        got = create_predictor(out, backend, threads=1)(x)
        assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-5, backend


def test_resize_helpers_keep_their_values():
    """The size form of the resizes gives the numbers of the scale_factor form."""
    x = paddle.rand([1, 3, 9, 13])
    np.testing.assert_array_equal(upsample_nearest2x(x).numpy(),
                                  F.interpolate(x, scale_factor=2, mode='nearest').numpy())
    np.testing.assert_allclose(resample(x, scaled_size(x, 3)).numpy(),
                               F.interpolate(x, scale_factor=3, mode='bilinear',
                                             align_corners=False).numpy(), atol=1e-6)
    assert list(upsample_nearest2x(x).shape) == [1, 3, 18, 26]


class _ReflectPads(nn.Layer):
    """Reflect pads as the LapStyle nets use them, plus wider and one-sided ones."""

    def __init__(self):
        super().__init__()
        self.pad1 = nn.Pad2D([1, 1, 1, 1], mode='reflect')
        self.conv = nn.Conv2D(3, 4, 3)
        self.pad2 = nn.Pad2D([2, 1, 0, 3], mode='reflect')

    def forward(self, x):
        return self.pad2(self.conv(self.pad1(x)))


def test_reflect_pads_export_as_four_d_ops_with_the_same_values(tmp_path):
    """No 5-D Pad (OpenVINO's reference kernel + layout reorders); the same numbers."""
    import onnx

    paddle.seed(0)
    layer = _ReflectPads()
    out = str(tmp_path / 'm')
    report = _export_layer(layer, out, 'pads', [(9, 13), (17, 11), (32, 30)])
    assert report.onnx_max_abs_diff < 1e-5 and report.max_abs_diff < 1e-5
    graph = onnx.load(report.onnx_file).graph
    ops = {n.op_type for n in graph.node}
    assert 'Pad' not in ops and 'Unsqueeze' not in ops and 'Concat' in ops
    x = np.random.default_rng(4).random((1, 3, 7, 10), dtype=np.float32)
    ref = F.pad(layer.conv(F.pad(paddle.to_tensor(x), [1, 1, 1, 1], mode='reflect')),
                [2, 1, 0, 3], mode='reflect').numpy()
    assert ref.shape == (1, 4, 10, 13)
    for backend in BACKENDS:
        got = create_predictor(out, backend, threads=1)(x)
        assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-5, backend


class _NumberScale(nn.Layer):
    """A net written against the paddle2onnx limitation, outside the export rewrite."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 3, 3, padding=1)

    def forward(self, x):
        # paddle.nn.functional.common.interpolate is not the name the rewrite replaces
        from paddle.nn.functional.common import interpolate

        return interpolate(self.conv(x), scale_factor=2, mode='nearest')


def test_conversion_failure_is_one_line_and_keeps_the_previous_export(tmp_path):
    out = str(tmp_path / 'm')
    _export_layer(_Resize(upsample_nearest2x), out, 'net', [(8, 8)])
    before = {n: open(os.path.join(out, n), 'rb').read() for n in os.listdir(out)}
    with pytest.raises(OnnxConversionError) as info:
        _export_layer(_NumberScale(), out, 'net', [(8, 8)])
    message = str(info.value)
    assert '\n' not in message and 'FloatAttribute' in message and 'net.json' in message
    assert {n: open(os.path.join(out, n), 'rb').read() for n in os.listdir(out)} == before
    # the Paddle format alone still exports
    report = _export_layer(_NumberScale(), str(tmp_path / 'paddle_only'), 'net', [(8, 8)],
                           formats=['paddle'])
    assert report.onnx_file is None and report.max_abs_diff < 1e-5


def test_onnx_only_folder_runs_on_onnx_backends_and_refuses_paddle(tmp_path, capsys):
    from ppgan_ext.cli import main

    config = sr_config(str(tmp_path / 'c.yaml'), norm='none')
    weights = save_weights(config, str(tmp_path / 'w.pdparams'), seed=5)
    out = str(tmp_path / 'onnx_only')
    assert main(['export', '-c', config, '--load', str(tmp_path / 'w.pdparams'),
                 '--output_dir', out, '--format', 'onnx', '--parity-sizes', '9x13']) == 0
    printed = capsys.readouterr().out
    assert 'ONNX Runtime - dynamic graph' in printed and 'Paddle Inference -' not in printed
    assert sorted(os.listdir(out)) == ['basesrmodel_generator.onnx', 'ppgan_ext.json']
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['formats'] == ['onnx'] and meta['model_file'] is None and meta['parity'] is None
    x = np.random.default_rng(3).random((1, 3, 7, 12), dtype=np.float32)
    ref = dygraph_run(dygraph_net(config, weights), x)
    assert np.abs(create_predictor(out, threads=1)(x) - ref).max() < 1e-4
    with pytest.raises(ValueError, match=r'--backend paddle: .* holds no Paddle graph'):
        create_predictor(out, 'paddle')
    # a paddle-only folder refuses the ONNX backends the same way
    paddle_only = str(tmp_path / 'paddle_only')
    shutil.copytree(out, paddle_only)
    assert main(['export', '-c', config, '--load', str(tmp_path / 'w.pdparams'),
                 '--output_dir', paddle_only, '--format', 'paddle', '--no-parity']) == 0
    assert sorted(os.listdir(paddle_only)) == ['basesrmodel_generator.json',
                                               'basesrmodel_generator.pdiparams',
                                               'ppgan_ext.json']
    for backend in BACKENDS:
        with pytest.raises(ValueError, match=f'--backend {backend}: .* holds no ONNX graph'):
            create_predictor(paddle_only, backend)
    rc = main(['export', '-c', config, '--output_dir', str(tmp_path / 'x'), '--format', 'tflite'])
    lines = error_lines(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1 and "--format: 'tflite' is not a format" in lines[0]


class _NormActNet(nn.Layer):
    """conv -> GroupNorm(1) -> LeakyReLU(0.2) -> conv -> GroupNorm(2) -> leaky_relu(0.1)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2D(3, 8, 3, padding=1), nn.Conv2D(8, 8, 3, padding=1)
        self.norm1, self.norm2 = nn.GroupNorm(1, 8), nn.GroupNorm(2, 8)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        return F.leaky_relu(self.norm2(self.conv2(self.act(self.norm1(self.conv1(x))))), 0.1)


def test_leaky_relu_exports_as_one_op_and_group_norm_without_reshapes(tmp_path):
    """The ONNX graph holds LeakyRelu (fused by the runtimes), not where(x > 0, x, s*x), and
    GroupNorm(1) as 4-D statistics; the values equal the dynamic graph's."""
    import onnx
    import onnxruntime as ort

    from ppgan_ext.deploy.graph_rewrites import onnx_convertible_ops
    from ppgan_ext.deploy.onnx_convert import convert_to_onnx

    paddle.seed(0)
    net = _NormActNet()
    net.eval()
    spec = [paddle.static.InputSpec([1, 3, None, None], 'float32', 'x')]
    with onnx_convertible_ops():
        paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True),
                        str(tmp_path / 'net'))
    path = convert_to_onnx(str(tmp_path / 'net.json'), str(tmp_path / 'net.pdiparams'),
                           str(tmp_path / 'net.onnx'))
    nodes = onnx.load(path).graph.node
    ops = [n.op_type for n in nodes]
    alphas = sorted(round(a.f, 6) for n in nodes if n.op_type == 'LeakyRelu'
                    for a in n.attribute if a.name == 'alpha')
    assert alphas == [0.1, 0.2] and 'Where' not in ops and 'Greater' not in ops
    axes = sorted(tuple(a.ints) for n in nodes if n.op_type == 'ReduceMean'
                  for a in n.attribute if a.name == 'axes')
    assert axes == [(-1,), (-1,), (1, 2, 3), (1, 2, 3)]   # GroupNorm(2) grouped, GroupNorm(1) 4-D
    x = np.random.default_rng(0).random((1, 3, 21, 17), dtype=np.float32)
    with paddle.no_grad():
        want = net(paddle.to_tensor(x)).numpy()
    got = ort.InferenceSession(path, providers=['CPUExecutionProvider']).run(None, {'x': x})[0]
    assert np.abs(got - want).max() < 1e-5
