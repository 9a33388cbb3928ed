"""LapStyle with ppgan's weights gives ppgan's output; ppgan's own classes are the reference.

A checkpoint in the layout of PaddleGAN's released styles (``net_enc``,
``net_dec``, ``net_rev``, ``net_rev_2``) is built from ppgan's ``Encoder``,
``DecoderNet`` and ``RevisionNet`` with random weights scaled to give an
image-like output. ppgan's ``Encoder`` reads ``vgg_normalised.pdparams``
through ppgan's own cache lookup (``ppgan.utils.download.PPGAN_HOME``), which
points at a folder holding a random VGG file: nothing is downloaded.
"""
import contextlib
import os

import cv2
import numpy as np
import paddle
import pytest
import skimage.data

import ppgan_ext  # noqa: F401
import ppgan.utils.download as ppgan_download
from ppgan.apps import lapstyle_predictor as ppgan_app
from ppgan.models.generators import DecoderNet, Encoder, RevisionNet
from ppgan.models.lapstyle_model import (LapStyleDraModel, LapStyleRevFirstModel,
                                         LapStyleRevSecondModel)

from ppgan_ext.cli import main
from ppgan_ext.models.generators.lapstyle_encoder import LapStyleVGGEncoder, vgg_state_from_encoder
from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
from ppgan_ext.weight_files import load_net_state, read_state_file

SIZE = 512


def _calibrate(conv, out, target_std, target_mean):
    """Rescale an output conv so that ``out`` (its current output) gets the given mean and std."""
    o = out.numpy()
    mean, std = o.mean(axis=(0, 2, 3)), o.std(axis=(0, 2, 3)) + 1e-12
    k = target_std / std
    w = conv.weight.numpy() * k[:, None, None, None]
    b = (conv.bias.numpy() - mean) * k + target_mean
    conv.weight.set_value(w.astype('float32'))
    conv.bias.set_value(b.astype('float32'))


@contextlib.contextmanager
def _ppgan_cache(folder):
    """Point ppgan's weight cache (where ``get_path_from_url`` looks first) at ``folder``."""
    saved = ppgan_download.PPGAN_HOME
    ppgan_download.PPGAN_HOME = str(folder)
    try:
        yield
    finally:
        ppgan_download.PPGAN_HOME = saved


def _random_vgg_file(path):
    """A random VGG-19 in the flat layout of ppgan's ``vgg_normalised.pdparams`` (all 16 convs)."""
    vgg = vgg_state_from_encoder(LapStyleVGGEncoder(random_init=True))
    rng = np.random.default_rng(3)
    for index in (45, 48, 51):   # relu5_2 .. relu5_4: in the file, unused by the encoder
        vgg[f'{index}.weight'] = rng.normal(0, 0.02, (512, 512, 3, 3)).astype('float32')
        vgg[f'{index}.bias'] = np.zeros(512, 'float32')
    paddle.save({k: paddle.to_tensor(v) for k, v in vgg.items()}, str(path))


@pytest.fixture(scope='module')
def released_style(tmp_path_factory):
    """(checkpoint, content png, style png, folder) of a random ppgan-layout 2-level style file."""
    root = tmp_path_factory.mktemp('ppgan_style')
    cache = root / 'ppgan_cache'
    cache.mkdir()
    paddle.seed(7)
    _random_vgg_file(cache / 'vgg_normalised.pdparams')
    content = skimage.data.astronaut()                          # 512x512 RGB
    style = cv2.resize(skimage.data.coffee(), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    content_png, style_png = str(root / 'content.png'), str(root / 'style.png')
    cv2.imwrite(content_png, content[:, :, ::-1])
    cv2.imwrite(style_png, style[:, :, ::-1])

    with _ppgan_cache(cache):   # ppgan's Encoder() finds the file there
        enc = Encoder()
    dec, rev, rev2 = DecoderNet(), RevisionNet(), RevisionNet()
    for net in (enc, dec, rev, rev2):
        net.eval()
    # scale the output convs with ppgan's own pipeline: draft ~ N(0.5, 0.2), bands ~ N(0, 0.05)
    ci, si, _, _ = ppgan_app.img_read(content_png, style_png)
    pyr_ci = ppgan_app.make_laplace_pyramid(ci, 2)
    pyr_si = ppgan_app.make_laplace_pyramid(si, 2)
    with paddle.no_grad():
        cF, sF = enc(pyr_ci[2]), enc(pyr_si[2])
        _calibrate(dec.final_conv[1], dec(cF, sF), 0.2, 0.5)
        small = dec(cF, sF)
        inp = paddle.concat([pyr_ci[1], paddle.nn.functional.interpolate(small, scale_factor=2)], 1)
        _calibrate(rev.UpBlock[-1], rev(inp), 0.05, 0.0)
        lap = rev(inp)
        first = ppgan_app.fold_laplace_pyramid([lap, small])
        up2 = paddle.nn.functional.interpolate(first, scale_factor=2)
        inp2 = paddle.concat([pyr_ci[0], up2], 1)
        _calibrate(rev2.UpBlock[-1], rev2(inp2), 0.05, 0.0)
    ckpt = str(root / 'lapstyle_random.pdparams')
    paddle.save({'net_enc': enc.state_dict(), 'net_dec': dec.state_dict(),
                 'net_rev': rev.state_dict(), 'net_rev_2': rev2.state_dict()}, ckpt)
    return ckpt, content_png, style_png, root


@pytest.fixture(scope='module')
def ppgan_output(released_style):
    """ppgan's LapStylePredictor.run on the checkpoint: its stylized.png (uint8 BGR)."""
    ckpt, content_png, style_png, root = released_style
    out_dir = str(root / 'ppgan_out')
    with _ppgan_cache(root / 'ppgan_cache'):   # its Encoder() reads the VGG file in __init__
        predictor = ppgan_app.LapStylePredictor(output=out_dir, weight_path=ckpt)
    predictor.run(content_png, style_png)
    img = cv2.imread(os.path.join(out_dir, 'LapStyle', 'stylized.png'))
    assert img is not None and img.shape == (SIZE, SIZE, 3)
    assert 20 < img.mean() < 235 and img.std() > 20   # an image, not a flat or clipped field
    return img


def _agreement(ours, ref):
    diff = np.abs(ours.astype(np.int16) - ref.astype(np.int16))
    return float((diff <= 1).mean()), int(diff.max())


def test_stylize_weights_gives_ppgan_predictor_output(released_style, ppgan_output, tmp_path):
    ckpt, content_png, style_png, _ = released_style
    out_dir = tmp_path / 'ours'
    assert main(['stylize', '--content', content_png, '--style', style_png,
                 '--weights', ckpt, '--output', str(out_dir)]) == 0
    ours = cv2.imread(str(out_dir / 'content.png'))
    within_one, worst = _agreement(ours, ppgan_output)
    assert within_one >= 0.999, (within_one, worst)
    assert worst <= 3, (within_one, worst)


@pytest.mark.e2e
def test_export_and_model_dir_give_ppgan_predictor_output(released_style, ppgan_output, tmp_path):
    """A released-style file through `export -c lapstyle_rev2.yaml` + `stylize --model_dir`,
    on Paddle Inference and on the ONNX graph in ONNX Runtime and OpenVINO."""
    ckpt, content_png, style_png, _ = released_style
    config = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'configs', 'lapstyle_rev2.yaml')
    model_dir = str(tmp_path / 'model')
    assert main(['export', '-c', config, '--load', ckpt, '--output_dir', model_dir]) == 0
    for backend in ('paddle', 'onnxruntime', 'openvino'):   # fp32 on every backend
        out = tmp_path / backend
        assert main(['stylize', '--model_dir', model_dir, '--content', content_png, '--style',
                     style_png, '--output', str(out), '--backend', backend]) == 0
        within_one, worst = _agreement(cv2.imread(str(out / 'content.png')), ppgan_output)
        assert within_one >= 0.999 and worst <= 3, (backend, within_one, worst)


def test_non_square_style_is_resized_as_ppgan_does(released_style, tmp_path):
    """ppgan squeezes any style to 512x512; so does stylize for ppgan-semantics weights."""
    ckpt, content_png, _, root = released_style
    style_png = str(tmp_path / 'coffee.png')
    cv2.imwrite(style_png, skimage.data.coffee()[:, :, ::-1])     # 400x600
    with _ppgan_cache(root / 'ppgan_cache'):
        predictor = ppgan_app.LapStylePredictor(output=str(tmp_path / 'ppgan'), weight_path=ckpt)
    predictor.run(content_png, style_png)
    ref = cv2.imread(str(tmp_path / 'ppgan' / 'LapStyle' / 'stylized.png'))
    assert main(['stylize', '--content', content_png, '--style', style_png,
                 '--weights', ckpt, '--output', str(tmp_path / 'ours')]) == 0
    within_one, worst = _agreement(cv2.imread(str(tmp_path / 'ours' / 'content.png')), ref)
    assert within_one >= 0.999 and worst <= 3, (within_one, worst)


def test_exact_semantics_would_not_match(released_style, ppgan_output):
    """The check above can fail: the same weights run with our exact pyramid differ visibly."""
    ckpt, content_png, style_png, _ = released_style
    state = read_state_file(ckpt)
    net = LapStylePyramidNet(2, semantics='exact')
    state['net_dec']['semantics_record'] = np.array([1], dtype='int64')
    net.load_weights(state, ckpt)
    net.eval()
    c = cv2.imread(content_png)[:, :, ::-1].transpose(2, 0, 1)[None].astype('float32') / 255
    s = cv2.imread(style_png)[:, :, ::-1].transpose(2, 0, 1)[None].astype('float32') / 255
    with paddle.no_grad():
        out = net(paddle.to_tensor(c), paddle.to_tensor(s)).numpy()[0]
    ours = (out.transpose(1, 2, 0)[:, :, ::-1] * 255 + 0.5).astype(np.uint8)
    within_one, worst = _agreement(ours, ppgan_output)
    assert within_one < 0.99 and worst > 3


def test_released_layout_loads_as_ppgan_semantics(released_style):
    ckpt = released_style[0]
    from ppgan_ext.models.generators.lapstyle_pyramid import semantics_of_checkpoint
    assert semantics_of_checkpoint(read_state_file(ckpt)) == 'ppgan'
    net = LapStylePyramidNet(2, semantics='exact')
    with pytest.raises(ValueError, match="trained with the 'ppgan' pyramid semantics"):
        net.load_weights(read_state_file(ckpt), ckpt)


# ------------------------------------------------------------------ training parity
# ppgan's own losses; CalcStyleEmdLoss runs with the one change Paddle 3 needs
# (ppgan_ext.compat.patch_style_emd_loss: the larger of the two means, without
# concatenating 0-D tensors), tested on its own in test_compat.py.
_LOSSES = dict(calc_style_emd_loss={'name': 'CalcStyleEmdLoss'},
               calc_content_relt_loss={'name': 'CalcContentReltLoss'},
               calc_content_loss={'name': 'CalcContentLoss'},
               calc_style_loss={'name': 'CalcStyleLoss'})
# ppgan's Encoder always computes relu5_1, which needs drafting-level sides >= 32
CROPS = {0: 64, 1: 64, 2: 128}


def _batch(style_png, crop):
    """Two content crops of scikit-image photos and two random crops of the style."""
    rng = np.random.default_rng(11)
    photos = [skimage.data.chelsea(), skimage.data.rocket()]
    ci = np.stack([p[100:100 + crop, 150:150 + crop] for p in photos]).transpose(0, 3, 1, 2)
    style = cv2.imread(style_png)[:, :, ::-1]
    tops = rng.integers(0, SIZE - crop, size=(2, 2))
    si = np.stack([style[t:t + crop, l:l + crop] for t, l in tops]).transpose(0, 3, 1, 2)
    return {'ci': (ci / 255.0).astype('float32'), 'si': (si / 255.0).astype('float32'),
            'ci_path': ['chelsea', 'rocket']}


def _ppgan_model(stage, cache, ckpt):
    """ppgan's own LapStyle model of ``stage`` (0: draft, 1, 2), lower nets from ``ckpt``."""
    from ppgan_ext.compat import patch_style_emd_loss

    patch_style_emd_loss()   # applied by ppgan_ext's training entry points, not by imports
    state = read_state_file(ckpt)
    enc = {'name': 'Encoder'}
    with _ppgan_cache(cache):
        if stage == 0:
            model = LapStyleDraModel(enc, {'name': 'DecoderNet'}, **_LOSSES)
        else:
            cls = LapStyleRevFirstModel if stage == 1 else LapStyleRevSecondModel
            model = cls({'name': 'RevisionNet'}, {'name': 'LapStyleDiscriminator'}, enc,
                        {'name': 'DecoderNet'}, gan_criterion={'name': 'GANLoss',
                                                               'gan_mode': 'vanilla'},
                        **_LOSSES)
    model.nets['net_enc'].set_state_dict(state['net_enc'])
    lower = ['net_dec'] if stage else []
    lower += ['net_rev'] if stage == 2 else []
    for name in lower:
        model.nets[name].set_state_dict(state[name])
    if stage == 0:   # an image-like draft (ppgan's N(0, 0.02) init gives a near-black one)
        model.nets['net_dec'].set_state_dict(state['net_dec'])
    return model


def _our_model(stage, vgg, ckpt):
    from ppgan_ext.models.lapstyle_model import LapStylePyramidModel

    cfg = {'semantics': 'ppgan', 'emd_layers': ['r41'] if stage == 2 else ['r31', 'r41'],
           'relt_layers': ['r41'] if stage == 2 else ['r31', 'r41']}
    if stage == 0:
        return LapStylePyramidModel(stage='draft', encoder_generator={
            'name': 'LapStyleVGGEncoder', 'weights_path': vgg}, **cfg)
    return LapStylePyramidModel(stage='revision', levels=stage, draft_weights=ckpt,
                                revision_weights=[ckpt] * (stage - 1), **cfg)


def _losses(model, batch, stage):
    model.setup_input(batch)
    model.forward()
    if stage == 0:   # ppgan's draft model calls it backward_Dec
        (model.backward_Dec if hasattr(model, 'backward_Dec') else model.backward_G)()
    else:
        model.backward_D()
        model.backward_G()
    return {k: float(v) for k, v in model.losses.items()}


@pytest.mark.parametrize('stage', [0, 1, 2], ids=['draft', 'revision1', 'revision2'])
def test_training_losses_equal_ppgan_models_term_by_term(released_style, stage):
    ckpt, _, style_png, root = released_style
    cache = root / 'ppgan_cache'
    vgg = str(cache / 'vgg_normalised.pdparams')
    batch = _batch(style_png, CROPS[stage])
    theirs = _ppgan_model(stage, cache, ckpt)
    ours = _our_model(stage, vgg, ckpt)
    trained = {0: ['net_dec'], 1: ['net_rev', 'netD'], 2: ['net_rev_2', 'netD']}[stage]
    for name in trained:   # the same starting weights for the trained nets
        load_net_state(ours.nets[name], theirs.nets[name].state_dict(), 'ppgan model', name)
    ref = _losses(theirs, batch, stage)
    got = _losses(ours, batch, stage)
    terms = ['loss_c', 'loss_s', 'loss_style_remd', 'loss_content_relt']
    terms += ['l_identity1', 'l_identity2'] if stage == 0 else \
        ['loss_gan_G', 'D_fake_loss', 'D_real_loss']
    for term in terms:
        assert np.isfinite(ref[term]) and ref[term] != 0, term
        assert got[term] == pytest.approx(ref[term], rel=1e-4), (term, got[term], ref[term])
