"""LapStyle nets: shapes at odd sizes, AdaIN, VGG weight files, parity with ppgan's nets."""
import os

import numpy as np
import paddle
import pytest

import ppgan_ext  # noqa: F401
from ppgan_ext.models.discriminators.lapstyle_patch import LapStylePatchDiscriminator
from ppgan_ext.models.generators.lapstyle_blocks import adain, channel_mean_std
from ppgan_ext.models.generators.lapstyle_draft import LapStyleDraftNet
from ppgan_ext.models.generators.lapstyle_encoder import (
    VGG_FILE_NAME, LapStyleVGGEncoder, vgg_state_from_encoder)
from ppgan_ext.models.generators.lapstyle_pyramid import (LapStylePyramidNet,
                                                          semantics_of_checkpoint)
from ppgan_ext.models.generators.lapstyle_revision import LapStyleRevisionNet
from ppgan_ext.weight_files import load_net_state


@pytest.fixture(scope='module')
def vgg64():
    paddle.seed(1)
    return LapStyleVGGEncoder(random_init=True)


def _write_flat_vgg(encoder, path, extra=True):
    """A file laid out like PaddleGAN's vgg_normalised.pdparams (flat Sequential keys)."""
    state = vgg_state_from_encoder(encoder)
    if extra:  # relu5_2 .. relu5_4 convs are in the real file and must be ignored
        for index in (45, 48, 51):
            state[f'{index}.weight'] = np.zeros((512, 512, 3, 3), np.float32)
            state[f'{index}.bias'] = np.zeros((512,), np.float32)
    paddle.save(state, str(path))
    return state


def test_encoder_feature_shapes_at_odd_size():
    enc = LapStyleVGGEncoder(random_init=True, base_channels=4)
    feats = enc(paddle.rand([2, 3, 37, 45]))
    assert [f.shape for f in feats] == [[2, 4, 37, 45], [2, 8, 19, 23], [2, 16, 10, 12],
                                        [2, 32, 5, 6], [2, 32, 3, 3]]
    assert len(enc(paddle.rand([1, 3, 20, 20]), 4)) == 4
    assert all(float(f.min()) >= 0 for f in feats)  # ReLU features


def test_encoder_is_frozen_but_passes_gradients_to_its_input():
    enc = LapStyleVGGEncoder(random_init=True, base_channels=4)
    x = paddle.rand([1, 3, 32, 32])
    x.stop_gradient = False
    sum(f.sum() for f in enc(x)).backward()
    assert all(p.stop_gradient and p.grad is None for p in enc.parameters())
    assert float(x.grad.abs().sum()) > 0


def test_ppgan_vgg_file_loads_into_our_encoder_and_ppgans(vgg64, tmp_path, monkeypatch):
    path = tmp_path / VGG_FILE_NAME
    _write_flat_vgg(vgg64, path)
    ours = LapStyleVGGEncoder(weights_path=str(path))
    # ppgan's Encoder downloads in its constructor: point it at the same local file
    import ppgan.models.generators.generater_lapstyle as ppgan_lapstyle
    monkeypatch.setattr(ppgan_lapstyle, 'get_path_from_url', lambda url: str(path))
    theirs = ppgan_lapstyle.Encoder()
    assert set(theirs.state_dict()) == set(ours.state_dict())
    x = paddle.rand([1, 3, 40, 48])
    got, ref = ours(x), theirs(x)
    for name, feat in zip(('r11', 'r21', 'r31', 'r41', 'r51'), got):
        np.testing.assert_allclose(feat.numpy(), ref[name].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[3].numpy(), vgg64(x)[3].numpy())


def test_encoder_state_dict_and_checkpoint_layouts_load(vgg64, tmp_path):
    state = {k: v.numpy() for k, v in vgg64.state_dict().items()}
    paddle.save(state, str(tmp_path / 'enc.pdparams'))
    paddle.save({'net_enc': state, 'net_dec': {}}, str(tmp_path / 'ckpt.pdparams'))
    x = paddle.rand([1, 3, 24, 24])
    for name in ('enc.pdparams', 'ckpt.pdparams'):
        enc = LapStyleVGGEncoder(weights_path=str(tmp_path / name))
        np.testing.assert_array_equal(enc(x)[2].numpy(), vgg64(x)[2].numpy())


def test_default_path_is_ppgans_cache(vgg64, tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        LapStyleVGGEncoder()
    expected = os.path.join(str(tmp_path), '.cache', 'ppgan', VGG_FILE_NAME)
    assert expected in str(err.value)
    os.makedirs(os.path.dirname(expected))
    _write_flat_vgg(vgg64, expected, extra=False)
    x = paddle.rand([1, 3, 24, 24])
    np.testing.assert_array_equal(LapStyleVGGEncoder()(x)[1].numpy(), vgg64(x)[1].numpy())


def _one_line_error(exc_type, **kwargs):
    with pytest.raises(exc_type) as err:
        LapStyleVGGEncoder(**kwargs)
    msg = str(err.value)
    assert '\n' not in msg
    assert VGG_FILE_NAME in msg and 'weights_path' in msg  # says where the file comes from
    return msg


def test_missing_truncated_and_wrong_vgg_files_give_one_clear_line(vgg64, tmp_path):
    missing = str(tmp_path / 'nope.pdparams')
    assert missing in _one_line_error(FileNotFoundError, weights_path=missing)

    good = tmp_path / 'good.pdparams'
    _write_flat_vgg(vgg64, good, extra=False)
    data = good.read_bytes()
    truncated = tmp_path / 'truncated.pdparams'
    truncated.write_bytes(data[:len(data) // 3])
    msg = _one_line_error(ValueError, weights_path=str(truncated))
    assert str(truncated) in msg and 'truncated or corrupt' in msg

    wrong = tmp_path / 'wrong.pdparams'
    paddle.save({'conv.weight': np.zeros((3, 3), np.float32)}, str(wrong))
    msg = _one_line_error(ValueError, weights_path=str(wrong))
    assert str(wrong) in msg and 'enc_1.0.weight' in msg

    shapes = tmp_path / 'shapes.pdparams'
    state = vgg_state_from_encoder(vgg64)
    state['9.weight'] = np.zeros((128, 64, 1, 1), np.float32)
    paddle.save(state, str(shapes))
    msg = _one_line_error(ValueError, weights_path=str(shapes))
    assert 'enc_2.5.weight' in msg and '(128, 64, 3, 3)' in msg


def test_non_vgg_width_needs_random_init():
    with pytest.raises(ValueError, match='base_channels=8'):
        LapStyleVGGEncoder(base_channels=8)


def test_adain_gives_the_style_channel_statistics():
    rng = np.random.default_rng(3)
    content = paddle.to_tensor(rng.normal(2.0, 3.0, (2, 5, 9, 7)).astype(np.float32))
    scale = np.arange(1, 6)[None, :, None, None]
    style = paddle.to_tensor((rng.normal(0, 1, (2, 5, 12, 11)) * scale - 4.0).astype(np.float32))
    out = adain(content, style)
    assert out.shape == content.shape
    o_mean, o_std = channel_mean_std(out, eps=0.0)
    s_mean, s_std = channel_mean_std(style, eps=0.0)
    np.testing.assert_allclose(o_mean.numpy(), s_mean.numpy(), atol=1e-4)
    np.testing.assert_allclose(o_std.numpy(), s_std.numpy(), rtol=1e-3)
    # the normalised content pattern is kept: a per-channel affine map of the input
    c = content.numpy()[0, 0].ravel()
    o = out.numpy()[0, 0].ravel()
    assert abs(np.corrcoef(c, o)[0, 1] - 1.0) < 1e-5


def test_draft_net_output_has_the_content_size():
    enc = LapStyleVGGEncoder(random_init=True, base_channels=4)
    dec = LapStyleDraftNet(base_channels=4)
    content, style = paddle.rand([2, 3, 37, 45]), paddle.rand([2, 3, 50, 28])
    out = dec(enc(content), enc(style))
    assert out.shape == [2, 3, 37, 45]


def test_revision_net_and_discriminator_shapes_at_odd_sizes():
    rev = LapStyleRevisionNet(num_feat=8)
    band, image = paddle.rand([2, 3, 33, 21]), paddle.rand([2, 3, 33, 21])
    assert rev(band, image).shape == [2, 3, 33, 21]
    disc = LapStylePatchDiscriminator(num_feat=8, num_layers=4)
    assert disc(paddle.rand([2, 3, 33, 21])).shape == [2, 1, 33, 21]


@pytest.mark.parametrize('kwargs', [{'num_feat': 0}, {'in_channels': 'x'}])
def test_revision_net_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=list(kwargs)[0]):
        LapStyleRevisionNet(**kwargs)


def test_discriminator_rejects_one_layer():
    with pytest.raises(ValueError, match='num_layers'):
        LapStylePatchDiscriminator(num_layers=1)


def test_ppgan_lapstyle_weights_load_into_our_nets():
    """ppgan's LapStyle checkpoints (net_dec, net_rev, netD) have our parameter layout."""
    from ppgan.models.discriminators.discriminator_lapstyle import LapStyleDiscriminator
    from ppgan.models.generators.generater_lapstyle import DecoderNet, RevisionNet

    paddle.seed(5)
    for theirs, ours in ((DecoderNet(), LapStyleDraftNet()), (RevisionNet(), LapStyleRevisionNet()),
                         (LapStyleDiscriminator(), LapStylePatchDiscriminator())):
        src = theirs.state_dict()
        # ours also records the pyramid semantics (net_dec.semantics_record); ppgan ignores it
        own = {k: v.shape for k, v in ours.state_dict().items() if k != 'semantics_record'}
        assert {k: v.shape for k, v in src.items()} == own
        load_net_state(ours, src, 'ppgan', 'net')
        theirs.eval()
        ours.eval()
        if isinstance(ours, LapStyleRevisionNet):
            band, image = paddle.rand([1, 3, 32, 32]), paddle.rand([1, 3, 32, 32])
            ref = theirs(paddle.concat([band, image], axis=1))
            np.testing.assert_allclose(ours(band, image).numpy(), ref.numpy(), atol=1e-6)
        elif isinstance(ours, LapStylePatchDiscriminator):
            x = paddle.rand([2, 3, 16, 16])
            np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=1e-6)
        else:  # ppgan semantics (the default): the same AdaIN (unbiased variance)
            enc = LapStyleVGGEncoder(random_init=True)
            cf, sf = enc(paddle.rand([1, 3, 64, 64])), enc(paddle.rand([1, 3, 48, 80]))
            names = ('r11', 'r21', 'r31', 'r41', 'r51')
            ref = theirs(dict(zip(names, cf)), dict(zip(names, sf)))
            got = ours(cf, sf)
            scale = float(ref.abs().max())
            np.testing.assert_allclose(got.numpy() / scale, ref.numpy() / scale, atol=1e-5)


# ------------------------------------------------- the pyramid net, both semantics
def _random_pyramid(semantics, levels=2, seed=0):
    paddle.seed(seed)
    net = LapStylePyramidNet(levels, base_channels=16, num_feat=16, semantics=semantics)
    for layer in [net.draft.final_conv[1]] + [r.UpBlock[-1] for r in net.revisions]:
        layer.weight.set_value(paddle.normal(0.0, 0.05, layer.weight.shape))
        layer.bias.set_value(paddle.full(layer.bias.shape, 0.3 if layer is
                                          net.draft.final_conv[1] else 0.0))
    net.eval()
    return net


@pytest.mark.parametrize('semantics', ['ppgan', 'exact'])
def test_pyramid_net_jit_saves_with_dynamic_size_and_reloads(semantics, tmp_path):
    net = _random_pyramid(semantics)
    assert net.semantics == semantics
    static = paddle.jit.to_static(net, input_spec=net.input_spec(), full_graph=True)
    path = str(tmp_path / 'pyramid')
    paddle.jit.save(static, path)
    loaded = paddle.jit.load(path)
    rng = np.random.default_rng(0)
    style = paddle.to_tensor(rng.random((1, 3, 70, 90), dtype=np.float32))
    for size in [(64, 64), (47, 33), (101, 65)]:
        content = paddle.to_tensor(rng.random((1, 3) + size, dtype=np.float32))
        with paddle.no_grad():
            ref = net(content, style).numpy()
            got = loaded(content, style).numpy()
        assert got.shape == (1, 3) + size
        assert ref.std() > 1e-3   # the levels do something
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_semantics_change_the_output_and_are_recorded():
    ppgan, exact = _random_pyramid('ppgan'), _random_pyramid('exact')
    exact.set_state_dict({k: v for k, v in ppgan.state_dict().items()
                          if not k.endswith('semantics_record')})
    c, s = paddle.rand([1, 3, 64, 64]), paddle.rand([1, 3, 64, 64])
    with paddle.no_grad():
        assert float((ppgan(c, s) - exact(c, s)).abs().max()) > 1e-3
    assert ppgan.draft.state_dict()['semantics_record'].numpy().tolist() == [0]
    assert exact.draft.state_dict()['semantics_record'].numpy().tolist() == [1]


def test_style_encoded_once_gives_the_same_output():
    net = _random_pyramid('ppgan')
    s = paddle.rand([1, 3, 80, 64])
    feats = net.encode_style(s)
    with paddle.no_grad():
        for size in [(64, 64), (50, 70)]:
            c = paddle.rand([1, 3, *size])
            np.testing.assert_array_equal(net.forward_encoded(c, feats).numpy(),
                                          net(c, s).numpy())


def test_checkpoint_semantics_mismatch_and_truncated_files_are_one_line(tmp_path):
    net = _random_pyramid('exact', levels=1)
    state = {'net_enc': net.encoder.state_dict(), 'net_dec': net.draft.state_dict(),
             'net_rev': net.revisions[0].state_dict()}
    state = {k: {n: v.numpy() for n, v in d.items()} for k, d in state.items()}
    assert semantics_of_checkpoint(state) == 'exact'
    other = LapStylePyramidNet(1, base_channels=16, num_feat=16, semantics='ppgan')
    with pytest.raises(ValueError, match="trained with the 'exact' pyramid semantics"):
        other.load_weights(state, 'w.pdparams')
    two = LapStylePyramidNet(2, base_channels=16, num_feat=16, semantics='exact')
    with pytest.raises(ValueError, match=r"w.pdparams: no 'net_rev_2' weights, needed for a "
                                         r"2-level pyramid \(the file holds: net_dec, net_enc, "
                                         r"net_rev\)"):
        two.load_weights(state, 'w.pdparams')
    only_dec = {'net_dec': state['net_dec']}
    with pytest.raises(ValueError, match="no 'net_enc' weights"):
        LapStylePyramidNet(0, base_channels=16, semantics='exact').load_weights(only_dec, 'w')


def test_ppgan_loads_our_recorded_net_dec():
    """The semantics record does not stop ppgan's DecoderNet from loading our weights."""
    import warnings

    from ppgan.models.generators.generater_lapstyle import DecoderNet

    ours = LapStyleDraftNet(semantics='exact')
    ours.final_conv[1].weight.set_value(paddle.normal(0.0, 0.1, ours.final_conv[1].weight.shape))
    theirs = DecoderNet()
    with warnings.catch_warnings():
        warnings.simplefilter('error')   # ppgan would warn about a key it cannot place
        theirs.set_dict(ours.state_dict())
    np.testing.assert_array_equal(theirs.final_conv[1].weight.numpy(),
                                  ours.final_conv[1].weight.numpy())
