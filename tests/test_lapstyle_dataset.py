"""LapStyleContentStyleDataset: crops, determinism in test mode, image formats, errors."""
import cv2
import numpy as np
import pytest

import ppgan_ext  # noqa: F401
from ppgan.datasets.builder import build_dataset

from ppgan_ext.datasets.lapstyle_dataset import (
    LapStyleContentStyleDataset, read_rgb, write_lapstyle_samples)


@pytest.fixture(scope='module')
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp('lapstyle_data')
    content, style = write_lapstyle_samples(str(root), size=64)
    return root, content, style


def test_samples_are_real_photos(samples):
    root, content, style = samples
    names = sorted(p.name for p in (root / 'content').iterdir())
    assert names == ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'rocket.png']
    img = read_rgb(str(root / 'content' / 'coffee.png'))
    assert min(img.shape[:2]) == 64 and img.shape[2] == 3 and img.std() > 20
    assert style.endswith('gravel.png')


def test_train_items_are_random_crops_in_unit_range(samples):
    _, content, style = samples
    ds = build_dataset({'name': 'LapStyleContentStyleDataset', 'content_root': content,
                        'style_root': style, 'crop_size': 32, 'load_size': 48})
    assert len(ds) == 5
    a, b = ds[0], ds[0]
    assert a['ci'].shape == (3, 32, 32) and a['si'].shape == (3, 32, 32)
    assert a['ci'].dtype == np.float32 and 0.0 <= a['ci'].min() and a['ci'].max() <= 1.0
    assert a['ci_path'].endswith('astronaut.png') and a['si_path'] == style
    # 17x17 possible offsets: two draws almost never agree on both crops
    assert not (np.array_equal(a['ci'], b['ci']) and np.array_equal(a['si'], b['si']))


def test_seeded_train_crops_repeat(samples):
    _, content, style = samples
    first = LapStyleContentStyleDataset(content, style, 32, 48, seed=3)
    second = LapStyleContentStyleDataset(content, style, 32, 48, seed=3)
    np.testing.assert_array_equal(first[2]['ci'], second[2]['ci'])


def test_unseeded_crops_follow_numpys_global_seed(samples):
    # `--seed N` seeds NumPy's global generator: two runs with one seed see the same crops
    _, content, style = samples
    draws = []
    for global_seed in (5, 5, 6):
        np.random.seed(global_seed)
        ds = LapStyleContentStyleDataset(content, style, 32, 48)
        draws.append(np.concatenate([ds[i]['ci'] for i in range(len(ds))]))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


def test_test_mode_is_deterministic_and_cycles_styles(samples):
    root, content, _ = samples
    styles = str(root / 'style')
    ds = LapStyleContentStyleDataset(content, styles, 32, 48, test_mode=True)
    again = LapStyleContentStyleDataset(content, styles, 32, 48, test_mode=True)
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds[i]['ci'], again[i]['ci'])
        np.testing.assert_array_equal(ds[i]['si'], again[i]['si'])
    assert [ds[i]['si_path'][-9:] for i in range(3)] == ['brick.png', 'ravel.png', 'brick.png']
    # centre crop of the resized image
    full = cv2.resize(read_rgb(ds.content_paths[0]), (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(ds[0]['ci'], full[8:40, 8:40].transpose(2, 0, 1) / 255.0,
                               atol=1e-6)


def test_gray_rgba_and_16bit_images_become_rgb(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    rgba = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'rgba.png'), rgba)
    deep = (rng.integers(0, 256, (40, 50, 3)) * 257).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'gray.png')),
                                  np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'rgba.png')), rgba[:, :, 2::-1])
    np.testing.assert_array_equal(read_rgb(str(tmp_path / 'deep.png')),
                                  (deep[:, :, ::-1] // 257).astype(np.uint8))


def test_bad_inputs_name_the_culprit(tmp_path, samples):
    _, content, style = samples
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match=r'content_root: no images in .*empty'):
        LapStyleContentStyleDataset(str(tmp_path / 'empty'), style)
    with pytest.raises(FileNotFoundError, match=r'style_root: no such file or folder: .*nope'):
        LapStyleContentStyleDataset(content, str(tmp_path / 'nope.png'))
    with pytest.raises(ValueError, match='crop_size must be an int >= 32'):
        LapStyleContentStyleDataset(content, style, crop_size=16)
    with pytest.raises(ValueError, match=r'load_size must be an int >= crop_size \(64\)'):
        LapStyleContentStyleDataset(content, style, crop_size=64, load_size=48)
    (tmp_path / 'broken').mkdir()
    (tmp_path / 'broken' / 'x.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match=r'none of the 1 image files of content_root .*'
                                         r'x\.png \(cannot be decoded'):
        LapStyleContentStyleDataset(str(tmp_path / 'broken'), style, 32)


def test_square_resize_is_ppgans(samples):
    """keep_aspect: false resizes like ppgan's LapStyleDataset (PIL bilinear to a square)."""
    from PIL import Image

    root, content, style = samples
    ds = LapStyleContentStyleDataset(str(root / 'content' / 'coffee.png'), style, crop_size=48,
                                     load_size=48, test_mode=True, keep_aspect=False)
    src = read_rgb(str(root / 'content' / 'coffee.png'))
    assert src.shape[0] != src.shape[1]
    ref = np.asarray(Image.fromarray(src).resize((48, 48), Image.BILINEAR))
    np.testing.assert_array_equal(ds[0]['ci'], ref.transpose(2, 0, 1).astype(np.float32) / 255)
    with pytest.raises(ValueError, match='keep_aspect must be true or false'):
        LapStyleContentStyleDataset(content, style, crop_size=32, keep_aspect='no')
