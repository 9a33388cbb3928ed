"""ppgan_ext.models.layers: Paddle's layers with faster CPU kernels, same numbers and names."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppgan_ext.models import layers


def _forward_backward(layer, x):
    x = paddle.to_tensor(x, stop_gradient=False)
    y = layer(x)
    (y * paddle.linspace(-1.0, 1.0, y.size).reshape(y.shape)).sum().backward()
    grads = {name: p.grad.numpy() for name, p in layer.named_parameters()}
    return y.numpy(), x.grad.numpy(), grads


def _twins(ours_cls, paddle_cls, *args, **kwargs):
    paddle.seed(3)
    ours = ours_cls(*args, **kwargs)
    reference = paddle_cls(*args, **kwargs)
    reference.set_state_dict(ours.state_dict())
    for p in ours.parameters():
        if p.ndim == 1:    # biases and slopes start at constants: make them distinct
            p.set_value(paddle.uniform(p.shape, min=-0.5, max=0.5))
    reference.set_state_dict(ours.state_dict())
    return ours, reference


@pytest.mark.parametrize('ours_cls,paddle_cls,args,kwargs', [
    (layers.Conv2D, nn.Conv2D, (4, 6, 3), dict(padding=1)),
    (layers.Conv2D, nn.Conv2D, (4, 6, 3), dict(stride=2, bias_attr=False)),
    (layers.Conv2DTranspose, nn.Conv2DTranspose, (4, 5, 3),
     dict(stride=2, padding=1, output_padding=1)),
    (layers.Conv2DTranspose, nn.Conv2DTranspose, (4, 5, 4), dict(stride=2, padding=1)),
    (layers.PReLU, nn.PReLU, (), {}),
    (layers.PReLU, nn.PReLU, (4,), {}),
])
@pytest.mark.parametrize('training', [True, False])
def test_same_outputs_gradients_and_state_dict_as_paddle(ours_cls, paddle_cls, args, kwargs,
                                                         training):
    ours, reference = _twins(ours_cls, paddle_cls, *args, **kwargs)
    assert list(ours.state_dict()) == list(reference.state_dict())
    for layer in (ours, reference):
        layer.train() if training else layer.eval()
    x = np.random.default_rng(0).normal(size=(2, 4, 7, 9)).astype('float32')
    y, gx, grads = _forward_backward(ours, x)
    y_ref, gx_ref, grads_ref = _forward_backward(reference, x)
    assert np.abs(y).max() > 0.1 and set(grads) == set(grads_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=1e-5)
    for name in grads:
        assert np.abs(grads_ref[name]).max() > 0
        np.testing.assert_allclose(grads[name], grads_ref[name], rtol=1e-4, atol=1e-4)


def test_transposed_conv_output_size_argument_matches_paddle():
    ours, reference = _twins(layers.Conv2DTranspose, nn.Conv2DTranspose, 3, 2, 3, stride=2,
                             padding=1, output_padding=1)
    x = paddle.rand([1, 3, 5, 6])
    out = ours(x, output_size=[10, 11])
    assert tuple(out.shape) == (1, 2, 10, 11)
    np.testing.assert_allclose(out.numpy(), reference(x, output_size=[10, 11]).numpy(),
                               atol=1e-6)


def test_unsupported_layouts_are_refused():
    with pytest.raises(ValueError, match='zero padding and NCHW'):
        layers.Conv2D(3, 3, 3, padding=1, padding_mode='reflect')
    with pytest.raises(ValueError, match='NCHW only'):
        layers.Conv2DTranspose(3, 3, 3, data_format='NHWC')


def _op_names(layer):
    from paddle.static import InputSpec

    static = paddle.jit.to_static(layer, input_spec=[InputSpec([None, 4, None, None],
                                                               'float32')], full_graph=True)
    program = static.forward.concrete_program.main_program
    return [(op.name(), op.attrs()['value'] if op.name() == 'pd_op.full_int_array' else None)
            for op in program.global_block().ops]


@pytest.mark.parametrize('ours_cls,paddle_cls,args', [
    (layers.Conv2D, nn.Conv2D, (4, 6, 3)),
    (layers.Conv2DTranspose, nn.Conv2DTranspose, (4, 5, 4)),
    (layers.PReLU, nn.PReLU, ()),
    (layers.PReLU, nn.PReLU, (4,)),
])
def test_eval_mode_traces_paddles_own_graph(ours_cls, paddle_cls, args):
    """Exports see Paddle's ops (Paddle Inference fuses bias and PReLU into the conv)."""
    ours, reference = _twins(ours_cls, paddle_cls, *args)
    ours.eval()
    reference.eval()
    names = _op_names(ours)
    assert names == _op_names(reference)
    ours.train()
    assert _op_names(ours) != names     # training really takes the other kernels
