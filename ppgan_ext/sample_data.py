"""Embedded demo and test data: scikit-image's bundled photos and generated images.

Nothing is downloaded: every photo here ships inside the ``scikit-image``
wheel, and every other image is drawn by :func:`dead_leaves` from a seeded
:class:`numpy.random.Generator`.
"""
import os
from typing import Dict, Iterable, List, Optional, Sequence

import cv2
import numpy as np

from .image_io import write_png

# Held out from training in the demo; never in TRAIN_PHOTOS.
TEST_PHOTOS = ('chelsea', 'rocket', 'coffee')
TRAIN_PHOTOS = ('astronaut', 'hubble_deep_field', 'immunohistochemistry', 'motorcycle',
                'camera', 'moon', 'coins', 'cell', 'clock', 'page')
TEXTURES = ('brick', 'grass', 'gravel')
# Colour photos among TRAIN_PHOTOS; the rest are greyscale.
COLOUR_PHOTOS = ('astronaut', 'hubble_deep_field', 'immunohistochemistry', 'motorcycle')
# Second held-out set (tests): scikit-image pictures never used for training.
HELDOUT2_PHOTOS = ('retina', 'colorwheel') + TEXTURES


def sample_image(name: str) -> np.ndarray:
    """A bundled scikit-image picture as uint8 RGB ``(H, W, 3)`` (greyscale ones repeated).

    Args:
        name (str): a ``skimage.data`` function name (``'motorcycle'`` is the
            left view of ``stereo_motorcycle``).
    """
    from skimage import data
    if name == 'motorcycle':
        img = data.stereo_motorcycle()[0]
    else:
        loader = getattr(data, name, None)
        if loader is None:
            raise ValueError(f"unknown scikit-image sample {name!r}")
        img = loader()
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(img[..., :3])


def dead_leaves(rng: np.random.Generator, size: int = 384, palette: Optional[np.ndarray] = None,
                min_radius: float = 2.0, max_radius: float = 96.0, alpha: float = 3.0,
                max_blur: float = 1.2, shapes_per_pixel: float = 0.1) -> np.ndarray:
    """A generated "dead leaves" picture: occluding discs and polygons of random colour.

    Shapes of radius ``r`` drawn with density ``r**-alpha`` (scale invariant
    for ``alpha = 3``, like the edge statistics of photographs) are painted
    back to front; each is flat or (if large) carries a linear colour
    gradient and a little grain, and the whole picture is optionally blurred
    by a Gaussian (sigma uniform in [0, ``max_blur``]) so that its edges are
    not all perfectly sharp. Used as extra training data (Achddou et al.,
    "Synthetic images as a regularity prior for image restoration neural
    networks", SSVM 2021).

    Args:
        rng (numpy.random.Generator): Source of randomness.
        size (int): Side of the square output. Default: 384.
        palette (ndarray | None): uint8 ``(K, 3)`` RGB colours to draw from
            (e.g. pixels of photographs); None draws uniform colours. Default: None.
        min_radius (float): Smallest shape radius in pixels. Default: 2.
        max_radius (float): Largest shape radius in pixels. Default: 96.
        alpha (float): Exponent of the radius density. Default: 3.
        max_blur (float): Largest Gaussian sigma of the final blur. Default: 1.2.
        shapes_per_pixel (float): Shapes drawn per output pixel. Default: 0.1.

    Returns:
        ndarray: uint8 RGB ``(size, size, 3)``. (Colours are drawn and painted in
        B, G, R order, so a seed gives the pictures it always gave.)
    """
    if size < 8:
        raise ValueError(f'size must be >= 8, got {size!r}')
    # Inverse-CDF sampling of r ~ r**-alpha on [min_radius, max_radius].
    a, lo, hi = 1.0 - alpha, min_radius ** (1.0 - alpha), max_radius ** (1.0 - alpha)
    count = int(shapes_per_pixel * size * size)
    radii = (lo + (hi - lo) * rng.random(count)) ** (1.0 / a)
    centres = rng.uniform(-0.2 * size, 1.2 * size, (count, 2))
    if palette is not None and len(palette):
        colours = palette[rng.integers(len(palette), size=count), ::-1].astype(np.float32)
    else:
        colours = rng.uniform(0, 255, (count, 3)).astype(np.float32)
    polygon = rng.random(count) < 0.5
    sides = rng.integers(3, 7, count)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (count, 6)), axis=1)
    stretch = rng.uniform(0.5, 1.2, (count, 6))
    canvas = np.empty((size, size, 3), np.float32)
    canvas[:] = colours[0]
    # Painter's order, back to front; large shapes get a gradient and grain.
    for i in range(count):
        r, (cx, cy), colour = radii[i], centres[i], colours[i]
        if polygon[i]:
            n = sides[i]
            rr = r * stretch[i, :n]
            pts = np.stack([cx + rr * np.cos(angles[i, :n]), cy + rr * np.sin(angles[i, :n])], 1)
        if r < 8:
            if polygon[i]:
                cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], colour.tolist())
            else:
                cv2.circle(canvas, (int(round(cx)), int(round(cy))), max(1, int(round(r))),
                           colour.tolist(), -1)
            continue
        x0, y0 = max(0, int(cx - 1.3 * r) - 1), max(0, int(cy - 1.3 * r) - 1)
        x1, y1 = min(size, int(cx + 1.3 * r) + 2), min(size, int(cy + 1.3 * r) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        if polygon[i]:
            cv2.fillPoly(mask, [np.round(pts - (x0, y0)).astype(np.int32)], 1)
        else:
            cv2.circle(mask, (int(round(cx - x0)), int(round(cy - y0))), int(round(r)), 1, -1)
        ys, xs = np.nonzero(mask)
        if not len(ys):
            continue
        value = np.broadcast_to(colour, (len(ys), 3)).copy()
        if rng.random() < 0.5:   # linear gradient across the shape
            g = rng.normal(0, 40.0 / r, 2).astype(np.float32)
            ramp = (xs + x0 - cx) * g[0] + (ys + y0 - cy) * g[1]
            value += ramp[:, None].astype(np.float32) * rng.uniform(0.5, 1.5, 3).astype(np.float32)
        if rng.random() < 0.3:   # grain
            value += rng.normal(0, rng.uniform(2, 8), (len(ys), 1)).astype(np.float32)
        canvas[ys + y0, xs + x0] = value
    sigma = rng.uniform(0, max_blur)
    if sigma > 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    return np.ascontiguousarray(np.clip(canvas, 0, 255).round().astype(np.uint8)[:, :, ::-1])


def photo_palette(names: Sequence[str] = COLOUR_PHOTOS, count: int = 4096,
                  seed: int = 0) -> np.ndarray:
    """``count`` random pixels of the named photos as uint8 RGB ``(count, 3)``."""
    rng = np.random.default_rng(seed)
    pixels = np.concatenate([sample_image(n).reshape(-1, 3) for n in names])
    return pixels[rng.integers(len(pixels), size=count)]


def write_images(folder: str, names: Iterable[str]) -> List[str]:
    """Write the named samples as PNGs into ``folder`` (existing files are kept)."""
    paths = []
    for name in names:
        path = os.path.join(folder, f'{name}.png')
        if not os.path.isfile(path):
            write_png(path, sample_image(name))
        paths.append(path)
    return paths


def write_dead_leaves(folder: str, count: int, seed: int = 0, size: int = 384,
                      prefix: str = 'leaves', palette_every: int = 2, **kwargs) -> List[str]:
    """Write ``count`` :func:`dead_leaves` pictures as PNGs (existing files are kept).

    Picture ``i`` depends only on ``(seed, i)`` and the arguments, so a
    folder is filled the same way on every machine. Every ``palette_every``-th
    picture takes its colours from the colour training photos
    (:func:`photo_palette`), the others uniform colours (0 = always uniform).
    Other keyword arguments go to :func:`dead_leaves`.
    """
    palette = None
    paths = []
    for i in range(count):
        path = os.path.join(folder, f'{prefix}_{seed}_{i:03d}.png')
        if not os.path.isfile(path):
            use_palette = palette_every > 0 and i % palette_every == 0
            if use_palette and palette is None:
                palette = photo_palette()
            rng = np.random.default_rng([seed, i])
            write_png(path, dead_leaves(rng, size, palette if use_palette else None, **kwargs))
        paths.append(path)
    return paths


def build_sr_split(root: str = 'data/saltpepper', photos: Sequence[str] = TRAIN_PHOTOS,
                   generated: int = 0, seed: int = 0) -> Dict[str, str]:
    """Clean training and held-out test pictures for the salt-and-pepper SR job.

    Args:
        root (str): Output folder. Default: 'data/saltpepper'.
        photos (sequence of str): scikit-image pictures for training (never
            one of :data:`TEST_PHOTOS`). Default: :data:`TRAIN_PHOTOS`.
        generated (int): Number of :func:`dead_leaves` pictures added to the
            training folder. Default: 0.
        seed (int): Seed of the generated pictures. Default: 0.

    Returns:
        dict: ``{'train': root/train, 'test': root/test}``.
    """
    leaked = sorted(set(photos) & set(TEST_PHOTOS))
    if leaked:
        raise ValueError(f'photos: {leaked} are held-out test photos ({TEST_PHOTOS})')
    split = {'train': os.path.join(root, 'train'), 'test': os.path.join(root, 'test')}
    write_images(split['train'], photos)
    if generated:
        write_dead_leaves(split['train'], generated, seed=seed)
    write_images(split['test'], TEST_PHOTOS)
    return split


def build_heldout2(folder: str, size: int = 256, generated: int = 2,
                   seed: int = 1000) -> List[str]:
    """A second held-out set, never trained on, with other statistics than the demo's trio.

    scikit-image pictures that no training split uses (:data:`HELDOUT2_PHOTOS`:
    a retina photograph, a colour wheel and three greyscale textures), each
    centre-cropped to a square and resized to ``size``, plus ``generated``
    :func:`dead_leaves` pictures with uniform colours, a flatter radius law
    (``alpha=2.5``) and more blur than the training ones, from another seed.

    Returns:
        list[str]: the PNG paths (existing files are kept).
    """
    paths = []
    for name in HELDOUT2_PHOTOS:
        path = os.path.join(folder, f'{name}.png')
        if not os.path.isfile(path):
            img = sample_image(name)
            h, w = img.shape[:2]
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            img = img[top:top + side, left:left + side]
            write_png(path, cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
        paths.append(path)
    paths += write_dead_leaves(folder, generated, seed=seed, size=size, prefix='other_leaves',
                               alpha=2.5, max_blur=2.0, palette_every=0)
    return paths


def write_random_lapstyle_weights(path: str, levels: int, width: Optional[int] = None,
                                  std: float = 0.05, seed: int = 0) -> str:
    """A LapStyle weight file (``net_enc``, ``net_dec``, ``net_rev``...) of random nets.

    For tests and benchmarks that need a whole pyramid without training one.
    The encoder is random-initialised (no VGG file needed); the zero-initialised
    output convolutions get N(0, ``std``) weights and the draft a 0.3 bias, so
    every level changes the result and the stylized image is not flat.

    Args:
        path (str): Destination ``.pdparams`` file (saved like a ppgan weight file).
        levels (int): Revision levels.
        width (int, optional): Encoder/draft ``base_channels`` and revision
            ``num_feat`` (16 in ``configs/lapstyle_tiny.yaml``); None keeps the
            nets' defaults (the full-size nets of ``configs/lapstyle_rev2.yaml``).
        std (float): Standard deviation of the output convolutions' weights.
        seed (int): ``paddle.seed`` before the nets are built.

    Returns:
        str: ``path``.
    """
    import paddle
    from ppgan.models.generators.builder import build_generator

    from .models.generators.lapstyle_pyramid import revision_net_name

    channels = {} if width is None else {'base_channels': width}
    features = {} if width is None else {'num_feat': width}
    paddle.seed(seed)
    nets = {'net_enc': build_generator({'name': 'LapStyleVGGEncoder', 'random_init': True,
                                        **channels}),
            'net_dec': build_generator({'name': 'LapStyleDraftNet', **channels})}
    for k in range(1, levels + 1):
        nets[revision_net_name(k)] = build_generator({'name': 'LapStyleRevisionNet',
                                                      **features})
    for name, net in nets.items():
        if name == 'net_enc':
            continue
        last = net.final_conv[1] if name == 'net_dec' else net.UpBlock[-1]
        last.weight.set_value(paddle.normal(0.0, std, last.weight.shape))
        last.bias.set_value(paddle.full(last.bias.shape, 0.3 if name == 'net_dec' else 0.0))
    paddle.save({name: net.state_dict() for name, net in nets.items()}, str(path))
    return str(path)


def write_heldout_pairs(folder: str, scale: int, names=None, size: int = 0) -> dict:
    """Ground truth and area-downscaled inputs of the held-out photos, as PNGs.

    Args:
        folder (str): Gets ``gt/NAME.png`` and ``lq/NAME.png``.
        scale (int): Downscale factor.
        names (list[str], optional): Default:
            :data:`ppgan_ext.sample_data.TEST_PHOTOS`.
        size (int): Centre-crop the ground truth to at most ``size`` x
            ``size`` first (0: whole photos, cut to a multiple of ``scale``).

    Returns:
        dict: ``{'gt': folder/gt, 'lq': folder/lq}``.
    """
    dirs = {'gt': os.path.join(folder, 'gt'), 'lq': os.path.join(folder, 'lq')}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    for name in names or TEST_PHOTOS:
        img = sample_image(name)
        h, w = img.shape[:2]
        ch, cw = (min(h, size), min(w, size)) if size else (h, w)
        ch, cw = ch - ch % scale, cw - cw % scale
        top, left = (h - ch) // 2, (w - cw) // 2
        gt = np.ascontiguousarray(img[top:top + ch, left:left + cw])
        write_png(os.path.join(dirs['gt'], f'{name}.png'), gt)
        write_png(os.path.join(dirs['lq'], f'{name}.png'),
                  cv2.resize(gt, (cw // scale, ch // scale), interpolation=cv2.INTER_AREA))
    return dirs
