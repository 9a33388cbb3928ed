"""The sub-pixel rewrite of transposed convolutions computes the same function for ONNX Runtime."""
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ppgan_ext.deploy.subpixel import rewrite_model


def _const(name, value, dtype=np.float32):
    return helper.make_node('Constant', [], [name], value=numpy_helper.from_array(
        np.asarray(value, dtype), name + '_v'))


def _upsampler(rng, kernel=4, pad=1, out_pad=0, stride=2, prelu='scalar', bias_input=False,
               out_channels=3, group=1):
    """x -> ConvTranspose -> (+ bias) -> PRelu -> Conv 3x3 -> (+ bias): an SR net's tail."""
    cin = cmid = 6
    nodes = [_const('w', rng.normal(0, 0.3, (cin, cmid // group, kernel, kernel))),
             helper.make_node('Identity', ['w'], ['w_id'])]
    inputs = ['x', 'w_id']
    if bias_input:
        nodes.append(_const('tb', rng.normal(0, 0.1, cmid)))
        inputs.append('tb')
    attrs = dict(kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4,
                 group=group)
    if out_pad:
        attrs['output_padding'] = [out_pad, out_pad]
    nodes.append(helper.make_node('ConvTranspose', inputs, ['up'], **attrs))
    nodes += [_const('b_raw', rng.normal(0, 0.1, cmid)), _const('shape', [1, -1, 1, 1], np.int64),
              helper.make_node('Reshape', ['b_raw', 'shape'], ['b']),
              helper.make_node('Add', ['up', 'b'], ['up_b'])]
    slope = [0.2] if prelu == 'scalar' else rng.uniform(0.05, 0.4, (cmid, 1, 1))
    nodes += [_const('slope', slope), helper.make_node('PRelu', ['up_b', 'slope'], ['act']),
              _const('w2', rng.normal(0, 0.3, (out_channels, cmid, 3, 3))),
              helper.make_node('Conv', ['act', 'w2'], ['y0'], kernel_shape=[3, 3], pads=[1] * 4),
              _const('b2', rng.normal(0, 0.1, (1, out_channels, 1, 1))),
              helper.make_node('Add', ['y0', 'b2'], ['y'])]
    graph = helper.make_graph(
        nodes, 'up', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, cin, None, None])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, out_channels, None, None])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])


def _run(model, x):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=['CPUExecutionProvider']).run(None, {'x': x})[0]


@pytest.mark.parametrize('case', [
    dict(),                                    # TransposeSRResNet's deconv_kernel=4
    dict(kernel=3, out_pad=1),                 # deconv_kernel=3 (output_padding 1)
    dict(prelu='channel', bias_input=True),    # per-channel slopes, bias in the op
    dict(kernel=8, pad=2, stride=4),           # x4 in one op
])
def test_rewritten_graph_computes_the_same_and_builds_no_full_resolution_features(case):
    rng = np.random.default_rng(3)
    model = _upsampler(rng, **case)
    x = rng.random((1, 6, 13, 10), dtype=np.float32)
    expected = _run(model, x)
    assert rewrite_model(model) == 1
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    act = 'PRelu' if case.get('prelu') == 'channel' else 'LeakyRelu'
    # conv (bias folded) -> activation -> conv on the phases -> one DepthToSpace of
    # out_channels * s * s channels -> the graph output's own Add
    assert [op for op in ops if op != 'Constant'] == ['Conv', act, 'Conv', 'DepthToSpace', 'Add']
    got = _run(model, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=0)


@pytest.mark.parametrize('case', [dict(group=2), dict(stride=2, kernel=3, pad=1)])
def test_transposed_convs_that_are_not_exact_upsamplers_are_left_alone(case):
    model = _upsampler(np.random.default_rng(0), **case)
    before = model.SerializeToString()
    assert rewrite_model(model) == 0
    assert model.SerializeToString() == before


def test_the_predictor_keeps_the_rewrite_beside_the_model_and_a_reexport_replaces_it(
        tmp_path, monkeypatch):
    from _export_helpers import save_weights, sr_config
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.backends import create_predictor
    from ppgan_ext.deploy.backends.onnxruntime import CACHE_DIR_NAME, CACHE_ENV, REWRITE_ENV

    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv(REWRITE_ENV, raising=False)
    config = sr_config(str(tmp_path / 'sr.yaml'))
    model_dir = str(tmp_path / 'sr')
    x = np.random.default_rng(0).random((1, 3, 19, 23), dtype=np.float32)

    def export(seed, parity=False):
        weights = str(tmp_path / f'w{seed}.pdparams')
        save_weights(config, weights, seed=seed)
        assert main(['export', '-c', config, '--load', weights, '--output_dir', model_dir]
                    + ([] if parity else ['--no-parity'])) == 0

    export(1)
    monkeypatch.setenv(REWRITE_ENV, 'off')
    plain = create_predictor(model_dir, 'onnxruntime', threads=1)
    assert not plain.rewritten and plain.graph.endswith('.onnx')
    expected = plain(x)
    monkeypatch.delenv(REWRITE_ENV)
    first = create_predictor(model_dir, 'onnxruntime', threads=1)
    assert first.rewritten
    assert os.path.dirname(os.path.dirname(first.graph)) == os.path.join(model_dir,
                                                                         CACHE_DIR_NAME)
    np.testing.assert_allclose(first(x), expected, atol=1e-5, rtol=0)
    stamp = os.stat(first.graph).st_mtime_ns
    second = create_predictor(model_dir, 'onnxruntime', threads=1)
    assert second.graph == first.graph and os.stat(second.graph).st_mtime_ns == stamp
    # new weights: the old rewrite goes with the graph (the parity check's own rewrite, made
    # in the export's temporary folder, is not installed)
    export(2, parity=True)
    assert not os.path.exists(os.path.join(model_dir, CACHE_DIR_NAME))
    third = create_predictor(model_dir, 'onnxruntime', threads=1)
    monkeypatch.setenv(REWRITE_ENV, 'off')
    np.testing.assert_allclose(third(x), create_predictor(model_dir, 'onnxruntime',
                                                          threads=1)(x), atol=1e-5, rtol=0)
    assert np.abs(third(x) - expected).max() > 1e-3
    monkeypatch.delenv(REWRITE_ENV)
    monkeypatch.setenv(CACHE_ENV, 'off')      # no cache: rewritten in memory
    fourth = create_predictor(model_dir, 'onnxruntime', threads=1)
    assert fourth.rewritten and isinstance(fourth.graph, bytes)


def test_a_dcr_pixel_shuffle_elsewhere_in_the_graph_keeps_its_own_order():
    rng = np.random.default_rng(1)
    nodes = [_const('w', rng.normal(0, 0.3, (4, 8, 4, 4))),
             helper.make_node('ConvTranspose', ['x', 'w'], ['up'], kernel_shape=[4, 4],
                              strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node('DepthToSpace', ['up'], ['ps'], blocksize=2, mode='DCR'),
             _const('w2', rng.normal(0, 0.3, (1, 2, 3, 3))),
             helper.make_node('Conv', ['ps', 'w2'], ['y0'], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node('Relu', ['y0'], ['y'])]
    graph = helper.make_graph(
        nodes, 'dcr', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4, None, None])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 1, None, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    x = rng.random((1, 4, 9, 11), dtype=np.float32)
    expected = _run(model, x)
    assert rewrite_model(model) == 1
    modes = [helper.get_attribute_value(a) for n in model.graph.node
             if n.op_type == 'DepthToSpace' for a in n.attribute if a.name == 'mode']
    assert sorted(modes) == [b'CRD', b'DCR']
    np.testing.assert_allclose(_run(model, x), expected, atol=2e-5, rtol=0)
