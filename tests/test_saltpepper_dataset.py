"""SaltPepperDataset: samples, crops and augmentation, determinism, conversions, bad inputs."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import paddle
import pytest
from skimage import data

import ppgan_ext  # noqa: F401
from ppgan.datasets.builder import DATASETS, build_dataloader, build_dataset
from ppgan_ext.datasets import SaltPepperDataset
from ppgan_ext.image_io import read_image


def write_rgb(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def to_uint8(chw):
    """float32 CHW in [0, 1] -> uint8 HWC, checking the values are exact multiples of 1/255."""
    hwc = chw.transpose(1, 2, 0) * 255
    rounded = np.round(hwc)
    assert np.abs(hwc - rounded).max() < 1e-3
    return rounded.astype(np.uint8)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """astronaut 200x200 (png), coffee 300x200 in a sub-folder (png), chelsea 225x150 (png)."""
    root = tmp_path_factory.mktemp('photos')
    imgs = {
        'astronaut.png': cv2.resize(data.astronaut(), (200, 200), interpolation=cv2.INTER_AREA),
        os.path.join('sub', 'coffee.png'): cv2.resize(data.coffee(), (300, 200),
                                                      interpolation=cv2.INTER_AREA),
        'chelsea.png': cv2.resize(data.chelsea(), (225, 150), interpolation=cv2.INTER_AREA),
    }
    for name, rgb in imgs.items():
        write_rgb(root / name, rgb)
    return str(root), {str(root / name): rgb for name, rgb in imgs.items()}


def test_registered_and_built_by_ppgan(photos):
    folder, _ = photos
    assert DATASETS.get('SaltPepperDataset') is SaltPepperDataset
    ds = build_dataset(dict(name='SaltPepperDataset', gt_folder=folder, gt_size=64, scale=4))
    assert isinstance(ds, SaltPepperDataset) and len(ds) == 3


def test_train_sample_keys_dtypes_shapes(photos):
    folder, imgs = photos
    ds = SaltPepperDataset(folder, gt_size=64, scale=4, prob=0.1, blur=3)
    assert sorted(ds.paths) == sorted(imgs)
    for i in range(len(ds)):
        s = ds[i]
        assert set(s) == {'lq', 'gt', 'lq_path', 'gt_path'}
        assert s['gt'].shape == (3, 64, 64) and s['lq'].shape == (3, 16, 16)
        assert s['gt'].dtype == np.float32 and s['lq'].dtype == np.float32
        for k in ('gt', 'lq'):
            assert s[k].min() >= 0.0 and s[k].max() <= 1.0
            assert s[k].flags['C_CONTIGUOUS']
        assert s['lq_path'] == s['gt_path'] == ds.paths[i]
        to_uint8(s['gt'])


def find_window(img, patch):
    """(transformed img, y, x, (flip, k)) with transformed[y:y+h, x:x+w] == patch, searching
    all 8 flips/rotations; None if there is none."""
    for flip in (False, True):
        for k in range(4):
            t = np.ascontiguousarray(np.rot90(img[:, ::-1] if flip else img, k))
            if t.shape[0] < patch.shape[0] or t.shape[1] < patch.shape[1]:
                continue
            res = cv2.matchTemplate(t, patch, cv2.TM_SQDIFF)
            y, x = np.unravel_index(np.argmin(res), res.shape)
            if np.array_equal(t[y:y + patch.shape[0], x:x + patch.shape[1]], patch):
                return t, y, x, (flip, k)
    return None


def test_train_crop_is_from_the_image_and_blur_sees_real_neighbours(photos):
    # prob=0 isolates the blur: lq must equal the blur of the whole image at the crop,
    # also near crop edges (an even kernel, the asymmetric case)
    folder, imgs = photos
    ds = SaltPepperDataset(folder, gt_size=48, prob=0.0, blur=6, use_flip=False, use_rot=False)
    for i in range(len(ds)):
        for _ in range(3):
            s = ds[i]
            gt, lq = to_uint8(s['gt']), to_uint8(s['lq'])
            img = imgs[s['gt_path']]
            found = find_window(img, gt)
            assert found is not None and found[0].shape == img.shape   # not flipped/rotated
            _, y, x, _ = found
            np.testing.assert_array_equal(lq, cv2.blur(img, (6, 6))[y:y + 48, x:x + 48])


def test_flips_and_rotations(photos):
    # crops of 140 from images of at least 150: the blur margins are often cut by the image
    # border on one side, so they must follow the flips and rotations
    folder, imgs = photos
    ds = SaltPepperDataset(folder, gt_size=140, prob=0.0, blur=8, seed=3)
    transforms, crops = set(), set()
    for _ in range(8):
        for i in range(len(ds)):
            s = ds[i]
            gt, lq = to_uint8(s['gt']), to_uint8(s['lq'])
            t, y, x, how = find_window(imgs[s['gt_path']], gt)
            # the degradation is applied after the flip/rotation
            np.testing.assert_array_equal(lq, cv2.blur(t, (8, 8))[y:y + 140, x:x + 140])
            transforms.add(how)
            crops.add(gt.tobytes())
    assert len(transforms) >= 6     # of the 8 flips/rotations
    assert len(crops) >= 20


def test_invert_trains_on_the_negative(photos):
    folder, imgs = photos
    ds = SaltPepperDataset(folder, gt_size=64, prob=0.0, blur=0, use_flip=False, use_rot=False,
                           invert=0.5, seed=1)
    negatives = 0
    for _ in range(10):
        for i in range(len(ds)):
            s = ds[i]
            gt, lq = to_uint8(s['gt']), to_uint8(s['lq'])
            np.testing.assert_array_equal(lq, gt)      # no noise, no blur: lq is the crop
            img = imgs[s['gt_path']]
            found = [find_window(src, gt) is not None for src in (img, 255 - img)]
            assert sum(found) == 1
            negatives += found[1]
    assert 8 <= negatives <= 22                     # of 30, at probability 0.5


def test_color_aug_permutes_and_scales_channels(tmp_path):
    """On a flat (200, 120, 40) picture every crop is one colour: a channel permutation,
    scaled by per-channel gains in [0.5, 1] about half of the time."""
    write_rgb(tmp_path / 'flat.png', np.full((80, 80, 3), (200, 120, 40), np.uint8))
    ds = SaltPepperDataset(str(tmp_path), gt_size=32, prob=0.0, blur=0, color_aug=True, seed=2)
    src = np.array([200, 120, 40])
    perms, gained = set(), 0
    for _ in range(60):
        gt = to_uint8(ds[0]['gt'])
        color = gt[0, 0].astype(int)
        assert (gt == gt[0, 0]).all()
        if sorted(color) == sorted(src):
            perms.add(tuple(color))
            continue
        gained += 1
        assert any(((color <= src[list(p)]) & (color >= src[list(p)] * 0.5 - 1)).all()
                   for p in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)))
    assert len(perms) >= 5
    assert 18 <= gained <= 42


def test_train_samples_vary(photos):
    folder, _ = photos
    ds = SaltPepperDataset(folder, gt_size=64, blur=0)
    a, b = ds[0], ds[0]
    assert not np.array_equal(a['gt'], b['gt'])


def test_noise_in_train_samples(photos):
    folder, _ = photos
    ds = SaltPepperDataset(folder, gt_size=128, prob=0.3, blur=0, salt_ratio=0.5)
    s = ds[1]
    gt, lq = to_uint8(s['gt']), to_uint8(s['lq'])
    changed = (gt != lq).any(axis=2)
    assert 0.2 < changed.mean() < 0.32
    assert np.isin(lq[changed], [0, 255]).all()


def test_test_mode_whole_image_mod_cropped(photos):
    folder, imgs = photos
    ds = SaltPepperDataset(folder, mode='test', scale=4, prob=0.1, blur=5)
    for i, path in enumerate(ds.paths):
        s = ds[i]
        h, w = imgs[path].shape[:2]
        assert s['gt'].shape == (3, h - h % 4, w - w % 4)
        assert s['lq'].shape == (3, h // 4, w // 4)
        # RGB order, exact values
        np.testing.assert_array_equal(to_uint8(s['gt']), imgs[path][:h - h % 4, :w - w % 4])


def test_test_mode_is_deterministic(photos):
    folder, _ = photos
    kwargs = dict(mode='test', scale=2, prob=[0.05, 0.2], blur=[3, 7], seed=5)
    a, b = SaltPepperDataset(folder, **kwargs), SaltPepperDataset(folder, **kwargs)
    first = [a[i]['lq'] for i in range(len(a))]
    for i in (2, 0, 1, 0):
        np.testing.assert_array_equal(a[i]['lq'], first[i])
        np.testing.assert_array_equal(b[i]['lq'], first[i])
    other = SaltPepperDataset(folder, **dict(kwargs, seed=6))
    assert not np.array_equal(other[0]['lq'], first[0])


def test_repeat_and_cache(photos):
    """repeat multiplies the train epoch; cache gives the same samples and is never modified."""
    folder, imgs = photos
    plain = SaltPepperDataset(folder, mode='test', scale=2, prob=0.2, blur=3)
    cached = SaltPepperDataset(folder, mode='test', scale=2, prob=0.2, blur=3, cache=True,
                               repeat=4)
    assert len(cached) == len(plain) == 3          # repeat applies to train mode only
    for i in range(3):
        np.testing.assert_array_equal(cached[i]['lq'], plain[i]['lq'])
    train = SaltPepperDataset(folder, gt_size=64, scale=4, prob=0.5, blur=3, cache=True,
                              repeat=4)
    assert len(train) == 12
    assert {train[i]['gt_path'] for i in range(12)} == set(imgs)
    for i in range(12):
        train[i]
    for path, img in zip(train.paths, train._images):
        np.testing.assert_array_equal(img, imgs[path])


@pytest.mark.e2e
def test_dataloader_two_workers(photos, tmp_path):
    """Worker processes give the same test samples and distinct train crops.

    Run in a fresh interpreter, as a training run forks its workers: forked from
    the long-lived test process (hundreds of tests, models, inference backends and
    their threads before it), the workers' shutdown has crashed the parent.
    """
    code = ('import sys; sys.path.insert(0, sys.argv[1]); import test_saltpepper_dataset as t; '
            't.check_dataloader_two_workers(sys.argv[2], sys.argv[3])')
    proc = subprocess.run([sys.executable, '-c', code, os.path.dirname(os.path.abspath(__file__)),
                           photos[0], str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith('dataloader ok'), proc.stdout[-1000:]


def check_dataloader_two_workers(folder, tmp_path):
    tmp_path = Path(tmp_path)
    # test mode: the same inputs as direct indexing, whatever worker serves an index
    ds = SaltPepperDataset(folder, mode='test', scale=2, prob=0.2, blur=3, seed=1)
    expected = [ds[i]['lq'] for i in range(len(ds))]
    loader = paddle.io.DataLoader(ds, batch_size=1, shuffle=False, num_workers=2)
    for epoch in range(2):
        got = [batch['lq'].numpy()[0] for batch in loader]
        for i in range(len(ds)):
            np.testing.assert_array_equal(got[i], expected[i])

    # train mode: 8 copies of one image; identical worker streams would repeat crops
    same = tmp_path / 'same'
    rgb = cv2.resize(data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    for i in range(8):
        write_rgb(same / f'{i}.png', rgb)
    train = build_dataloader(dict(name='SaltPepperDataset', gt_folder=str(same), gt_size=32,
                                  blur=3, batch_size=4, num_workers=2),
                             is_train=True, distributed=False)
    crops = []
    for epoch in range(2):
        for batch in train:
            assert tuple(batch['gt'].shape) == (4, 3, 32, 32)
            assert tuple(batch['lq'].shape) == (4, 3, 32, 32)
            crops += [g.tobytes() for g in batch['gt'].numpy()]
    assert len(crops) == 16 and len(set(crops)) == 16
    print('dataloader ok')


def test_conversions(tmp_path):
    folder = tmp_path / 'conv'
    folder.mkdir()
    gray = np.full((8, 10), 77, np.uint8)
    cv2.imwrite(str(folder / 'gray.png'), gray)
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[..., :3] = (10, 20, 30)             # R, G, B
    rgba[..., 3] = 0                         # fully transparent
    cv2.imwrite(str(folder / 'rgba.png'), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    g16 = np.full((8, 10), 65535, np.uint16)
    g16[0, 0] = 257 * 100
    g16[0, 1] = 32896                        # 127.998 -> 128
    cv2.imwrite(str(folder / 'gray16.png'), g16)
    c16 = np.zeros((8, 10, 3), np.uint16)
    c16[..., 0] = 65535                      # R
    c16[..., 2] = 257 * 9                    # B
    cv2.imwrite(str(folder / 'rgb16.tif'), cv2.cvtColor(c16, cv2.COLOR_RGB2BGR))

    ds = SaltPepperDataset(str(folder), mode='test', prob=0.0, blur=0)
    got = {os.path.basename(p): to_uint8(ds[i]['gt']) for i, p in enumerate(ds.paths)}
    for name, img in got.items():
        assert img.shape == (8, 10, 3), name
    assert (got['gray.png'] == 77).all()
    assert (got['rgba.png'] == (10, 20, 30)).all()
    assert got['gray16.png'][0, 0].tolist() == [100] * 3
    assert got['gray16.png'][0, 1].tolist() == [128] * 3
    assert (got['gray16.png'][1:] == 255).all()
    assert (got['rgb16.tif'] == (255, 0, 9)).all()
    np.testing.assert_array_equal(read_image(folder / 'rgba.png'), got['rgba.png'])


def make_bad_folder(root, photos_folder):
    root.mkdir()
    good = cv2.imread(os.path.join(photos_folder, 'astronaut.png'))
    cv2.imwrite(str(root / 'good.png'), good)
    data_ = open(root / 'good.png', 'rb').read()
    (root / 'trunc.png').write_bytes(data_[:len(data_) // 2])
    (root / 'notes.png').write_text('not an image\n')
    cv2.imwrite(str(root / 'tiny.png'), good[:40, :40])
    return str(root)


def test_bad_files_fail_in_one_line(photos, tmp_path):
    folder = make_bad_folder(tmp_path / 'bad', photos[0])
    with pytest.raises(ValueError) as err:
        SaltPepperDataset(folder, gt_size=64)
    msg = str(err.value)
    assert '\n' not in msg
    assert '3 of 4 image files' in msg
    for name in ('trunc.png', 'notes.png', 'tiny.png', 'gt_size=64', 'skip_bad'):
        assert name in msg
    assert 'good.png' not in msg
    # in test mode a small image is fine
    with pytest.raises(ValueError) as err:
        SaltPepperDataset(folder, mode='test')
    assert 'tiny.png' not in str(err.value) and 'trunc.png' in str(err.value)


def test_many_bad_files_are_counted(tmp_path):
    folder = tmp_path / 'many'
    folder.mkdir()
    cv2.imwrite(str(folder / 'ok.png'), np.zeros((8, 8, 3), np.uint8))
    for i in range(8):
        (folder / f'bad{i}.jpg').write_bytes(b'\xff\xd8 broken')
    with pytest.raises(ValueError, match='8 of 9 image files.*and 3 more'):
        SaltPepperDataset(str(folder), mode='test')


def test_skip_bad(photos, tmp_path):
    folder = make_bad_folder(tmp_path / 'bad', photos[0])
    with pytest.warns(UserWarning, match='skipping 3 of 4') as record:
        ds = SaltPepperDataset(folder, gt_size=64, skip_bad=True)
    assert 'notes.png' in str(record[0].message)
    assert len(ds) == 1 and ds.skipped == 3
    assert sorted(os.path.basename(p) for p, _ in ds.skipped_files) == [
        'notes.png', 'tiny.png', 'trunc.png']
    assert ds[0]['gt'].shape == (3, 64, 64)
    # nothing usable left is still an error
    os.remove(os.path.join(folder, 'good.png'))
    with pytest.raises(ValueError, match='none of the 3'):
        with pytest.warns(UserWarning):
            SaltPepperDataset(folder, gt_size=64, skip_bad=True)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        SaltPepperDataset(str(tmp_path / 'missing'))
    (tmp_path / 'file.png').write_bytes(b'')
    with pytest.raises(NotADirectoryError, match='file.png'):
        SaltPepperDataset(str(tmp_path / 'file.png'))
    empty = tmp_path / 'empty'
    (empty / 'sub').mkdir(parents=True)
    (empty / 'readme.txt').write_text('no images here')
    with pytest.raises(FileNotFoundError, match='no image files'):
        SaltPepperDataset(str(empty))


def test_recursive_switch(photos):
    folder, _ = photos
    assert len(SaltPepperDataset(folder, gt_size=64, recursive=False)) == 2


@pytest.mark.parametrize('kwargs, key', [
    (dict(prob=1.5), 'prob'),
    (dict(prob=[0.2, 0.1]), 'prob range'),
    (dict(salt_ratio=-1), 'salt_ratio'),
    (dict(blur=-3), 'blur'),
    (dict(scale=0), 'scale'),
    (dict(gt_size=100, scale=8), 'gt_size'),
    (dict(gt_size=0), 'gt_size'),
    (dict(mode='val'), 'mode'),
    (dict(use_flip='yes'), 'use_flip'),
    (dict(per_channel=1), 'per_channel'),
    (dict(seed=-1), 'seed'),
    (dict(repeat=0), 'repeat'),
    (dict(cache='no'), 'cache'),
    (dict(invert=1.5), 'invert'),
    (dict(invert=True), 'invert'),
    (dict(color_aug=1), 'color_aug'),
])
def test_bad_arguments(photos, kwargs, key):
    with pytest.raises(ValueError, match=key):
        SaltPepperDataset(photos[0], **kwargs)


def test_every_supported_extension(tmp_path):
    folder = tmp_path / 'formats'
    folder.mkdir()
    rgb = cv2.resize(data.astronaut(), (40, 32), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    lossless = ['a.png', 'b.bmp', 'c.tif', 'd.TIFF', 'e.webp']
    for name in lossless:
        params = [cv2.IMWRITE_WEBP_QUALITY, 101] if name.endswith('webp') else []
        assert cv2.imwrite(str(folder / name), bgr, params)
    for name in ('f.jpg', 'g.jpeg'):
        assert cv2.imwrite(str(folder / name), bgr, [cv2.IMWRITE_JPEG_QUALITY, 98])
    ds = SaltPepperDataset(str(folder), mode='test', prob=0.0, blur=0)
    assert len(ds) == 7 and ds.skipped == 0
    for i, path in enumerate(ds.paths):
        gt = to_uint8(ds[i]['gt']).astype(int)
        if os.path.basename(path) in lossless:
            np.testing.assert_array_equal(gt, rgb)
        else:
            err = np.abs(gt - rgb).mean()     # lossy, and chroma-subsampled at this size
            assert err < 8 and np.abs(gt - rgb[:, :, ::-1]).mean() > 2 * err
