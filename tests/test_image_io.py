"""The one image reader/writer: EXIF orientation everywhere, atomic PNGs, the bad-file lister."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from ppgan_ext import image_io


def _exif_jpeg(path: str, rgb: np.ndarray, orientation: int) -> str:
    """Write ``rgb`` (stored as is) as a JPEG whose EXIF says ``orientation``."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, quality=95, exif=exif.tobytes())
    return path


@pytest.fixture
def stored(photos):
    """A 24x40 (stored, landscape) RGB crop: upright it is 40 high and 24 wide."""
    return np.ascontiguousarray(photos['astronaut'][40:64, 100:140, ::-1])


@pytest.mark.parametrize('orientation', range(1, 9))
def test_orientation_matches_pillow(tmp_path, stored, orientation):
    path = _exif_jpeg(str(tmp_path / 'o.jpg'), stored, orientation)
    ours = image_io.read_image(path)
    with Image.open(path) as im:
        theirs = np.asarray(ImageOps.exif_transpose(im).convert('RGB'))
    assert ours.shape == theirs.shape
    # same geometry; the two JPEG decoders may differ by a few levels
    assert np.abs(ours.astype(int) - theirs.astype(int)).mean() < 2.0
    assert image_io.exif_orientation(path) == orientation


def test_orientation_applied_to_every_view(tmp_path, stored):
    path = _exif_jpeg(str(tmp_path / 'o6.jpg'), stored, 6)
    upright = cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]   # OpenCV applies EXIF itself
    assert upright.shape == (40, 24, 3)
    np.testing.assert_array_equal(image_io.read_image(path), upright)
    np.testing.assert_array_equal(image_io.read_uint8_rgb(path), upright)
    np.testing.assert_allclose(image_io.read_input(path).transpose(1, 2, 0),
                               upright.astype(np.float32) / 255.0, atol=1e-7)
    stored_bgr = image_io.decode_image(path, orient=False)
    assert stored_bgr.shape == (24, 40, 3)


def test_write_png_is_atomic_and_lossless(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = str(tmp_path / 'a.png')
    image_io.write_png(path, img)
    np.testing.assert_array_equal(image_io.read_image(path), img)
    image_io.write_png(path, img, channel_order='BGR')
    np.testing.assert_array_equal(image_io.read_image(path), img[:, :, ::-1])
    grey = img[:, :, 0]
    image_io.write_png(path, grey)
    np.testing.assert_array_equal(image_io.read_uint8_rgb(path)[:, :, 0], grey)
    assert os.listdir(tmp_path) == ['a.png']   # no temporary file left
    with pytest.raises(ValueError, match='channel_order'):
        image_io.write_png(path, img, channel_order='RGBA')


def test_bad_file_lister(tmp_path, stored):
    good = _exif_jpeg(str(tmp_path / 'good.jpg'), stored, 1)
    (tmp_path / 'empty.png').write_bytes(b'')
    with open(good, 'rb') as f:
        (tmp_path / 'cut.jpg').write_bytes(f.read()[:300])
    paths = [good, str(tmp_path / 'empty.png'), str(tmp_path / 'cut.jpg')]
    ok, bad = image_io.find_bad_images(paths)
    assert ok == [(good, (24, 40))]
    assert [os.path.basename(p) for p, _ in bad] == ['empty.png', 'cut.jpg']
    listing = image_io.bad_files_listing(bad, str(tmp_path), limit=1)
    assert listing.startswith('empty.png (empty file (0 bytes))') and listing.endswith('and 1 more')


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        image_io.read_image(str(tmp_path / 'nope.png'))


@pytest.mark.e2e
def test_orientation_6_jpeg_gives_one_array_everywhere(tmp_path, stored, capsys):
    """Dataset, LapStyle dataset, ``infer``, ``infer --gt`` and ``stylize`` all see it upright."""
    import paddle
    from _export_helpers import export_tiny_sr

    from ppgan_ext.cli import main
    from ppgan_ext.datasets.lapstyle_dataset import LapStyleContentStyleDataset
    from ppgan_ext.datasets.saltpepper_dataset import SaltPepperDataset
    from ppgan_ext.models.generators.lapstyle_pyramid import LapStylePyramidNet
    from ppgan_ext.utils import atomic_pickle

    jpg_dir, png_dir = tmp_path / 'jpg', tmp_path / 'png'
    jpg_dir.mkdir()
    png_dir.mkdir()
    jpg = _exif_jpeg(str(jpg_dir / 'phone.jpg'), stored, 6)
    upright = cv2.imread(jpg, cv2.IMREAD_COLOR)[:, :, ::-1]    # OpenCV's own EXIF handling
    assert upright.shape == (40, 24, 3)
    ref = str(png_dir / 'phone.png')
    cv2.imwrite(ref, upright[:, :, ::-1])                        # same pixels, no EXIF

    # training datasets
    for folder in (jpg_dir, png_dir):
        sample = SaltPepperDataset(str(folder), mode='test', prob=0.0, blur=0, scale=1)[0]
        np.testing.assert_allclose(sample['gt'].transpose(1, 2, 0) * 255.0, upright, atol=1e-3)
    lap = [LapStyleContentStyleDataset(str(f), ref, crop_size=32, test_mode=True)[0]['ci']
           for f in (jpg_dir, png_dir)]
    np.testing.assert_array_equal(lap[0], lap[1])

    # infer: the same output for the EXIF JPEG and its upright PNG
    (tmp_path / 'sr').mkdir()
    model = export_tiny_sr(str(tmp_path / 'sr'), seed=0)
    outs = []
    for src in (jpg, ref):
        out = str(tmp_path / f'infer_{os.path.basename(src)}')
        assert main(['infer', '--model_dir', model, '--input', src, '--output', out]) == 0
        outs.append(cv2.imread(os.path.join(out, 'phone.png')))
    assert outs[0].shape == (160, 96, 3)
    np.testing.assert_array_equal(outs[0], outs[1])

    # infer --gt: the EXIF JPEG as ground truth scores exactly as its upright PNG
    lq = str(tmp_path / 'lq.png')
    cv2.imwrite(lq, cv2.resize(upright[:, :, ::-1], (6, 10), interpolation=cv2.INTER_AREA))
    scores = []
    for gt in (jpg, ref):
        out = str(tmp_path / f'gt_{os.path.basename(gt)}')
        capsys.readouterr()
        assert main(['infer', '--model_dir', model, '--input', lq, '--output', out,
                     '--gt', gt]) == 0, capsys.readouterr().err
        with open(os.path.join(out, 'metrics.csv')) as f:
            scores.append(f.read())
    assert scores[0] == scores[1]

    # stylize: the same stylized image
    paddle.seed(0)
    net = LapStylePyramidNet(levels=1, base_channels=16, num_feat=16)
    weights = str(tmp_path / 'lap.pdparams')
    atomic_pickle({name: {k: v.numpy() for k, v in layer.state_dict().items()}
                   for name, layer in (('net_enc', net.encoder), ('net_dec', net.draft),
                                       ('net_rev', net.revisions[0]))}, weights)
    styled = []
    for src in (jpg, ref):
        out = str(tmp_path / f'style_{os.path.basename(src)}')
        assert main(['stylize', '--content', src, '--style', ref, '--weights', weights,
                     '--style-size', '32', '--output', out, '--no-cuda']) == 0
        styled.append(cv2.imread(os.path.join(out, 'phone.png')))
    assert styled[0].shape[:2] == (40, 24)
    np.testing.assert_array_equal(styled[0], styled[1])


@pytest.mark.parametrize('shape', [(3, 1030, 67), (1, 37, 53), (4, 20, 30), (5, 9, 9)])
def test_to_uint8_hwc_rounds_half_to_even_and_clips_like_numpy(shape):
    from ppgan_ext.tiling import to_uint8_hwc

    rng = np.random.default_rng(5)
    chw = rng.random(shape, dtype=np.float32) * 1.4 - 0.2
    flat = chw.reshape(-1)
    flat[:64] = (np.arange(64, dtype=np.float32) + 0.5) / np.float32(255.0)   # ties
    expected = np.rint(np.clip(chw, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    got = to_uint8_hwc(chw, rows=512)
    assert got.dtype == np.uint8 and got.shape == shape[1:] + shape[:1]
    np.testing.assert_array_equal(got, expected.transpose(1, 2, 0))
