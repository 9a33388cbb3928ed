"""Write photos that ship with scikit-image (``skimage.data``) as PNG files.

    python tools/sample_photos.py OUT_DIR chelsea astronaut --size 256

Any image of ``skimage.data`` by name (``chelsea``, ``astronaut``, ``coffee``, ``rocket``,
``hubble_deep_field``, ``colorwheel``, ...); grey images become RGB. Nothing is downloaded.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('output', help='folder to write NAME.png into')
    parser.add_argument('names', nargs='+', help='names of skimage.data images')
    parser.add_argument('--size', type=int, default=0,
                        help='shorter side of the written images (0: as shipped)')
    args = parser.parse_args(argv)
    from skimage import data

    from ppgan_ext.image_io import resize_short_side, write_png

    for name in args.names:
        loader = getattr(data, name, None)
        if not callable(loader) or name.startswith('_'):
            print(f'error: skimage.data has no image {name!r}', file=sys.stderr)
            return 2
        img = np.asarray(loader())
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if img.dtype != np.uint8:
            img = (np.clip(img.astype(np.float64) / max(float(img.max()), 1e-12), 0, 1)
                   * 255 + 0.5).astype(np.uint8)
        img = np.ascontiguousarray(img[:, :, :3])
        if args.size:
            img = resize_short_side(img, args.size)
        path = os.path.join(args.output, f'{name}.png')
        write_png(path, img)
        print(f'{path}: {img.shape[1]}x{img.shape[0]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
