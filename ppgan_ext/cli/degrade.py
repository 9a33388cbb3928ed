"""``paddlegan degrade SRC DST``: write degraded copies of a folder of images.

Every image under SRC (recursively) becomes ``DST/<relative folder>/<name>.png``:
salt-and-pepper noise, mean blur and optional bicubic downscaling, the model of
``SaltPepperDataset``. SRC is only read. Each file's randomness is seeded from
``--seed`` and its path relative to SRC, so results do not depend on file order
or on ``--jobs``.
"""
import argparse
import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple, Union

HELP = ('write salt-and-pepper + mean-blur (+ downscaled) copies of the images under SRC '
        'into DST as PNG')


def _number_or_range(cast):
    """argparse type: ``0.1`` or ``MIN,MAX``."""
    def parse(text: str) -> Union[float, int, List]:
        parts = text.split(',')
        if len(parts) not in (1, 2):
            raise argparse.ArgumentTypeError(f'expected a number or MIN,MAX, got {text!r}')
        try:
            values = [cast(p.strip()) for p in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected a number or MIN,MAX, got {text!r}') from None
        return values[0] if len(values) == 1 else values
    parse.__name__ = cast.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('src', metavar='SRC', help='folder of clean images (read only)')
    parser.add_argument('dst', metavar='DST',
                        help='output folder (created; must not be inside SRC or contain it)')
    parser.add_argument('--prob', type=_number_or_range(float), default=0.1,
                        help='fraction of noisy pixels in [0, 1], or MIN,MAX drawn per image '
                             '(default: 0.1)')
    parser.add_argument('--salt-ratio', type=float, default=0.5,
                        help='fraction of noisy pixels that are white (default: 0.5)')
    parser.add_argument('--per-channel', action='store_true',
                        help='independent noise per colour channel (default: per pixel)')
    parser.add_argument('--blur', type=_number_or_range(int), default=20,
                        help='mean-blur kernel size, 0 or 1 = off, or MIN,MAX drawn per image '
                             '(default: 20)')
    parser.add_argument('--scale', type=int, default=1,
                        help='bicubic downscaling factor after the blur, 1 = none (default: 1)')
    parser.add_argument('--seed', type=int, default=0, help='base random seed (default: 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo outputs that already exist (default: skip them)')
    parser.add_argument('-j', '--jobs', type=int, default=1,
                        help='images processed in parallel threads (default: 1)')


def file_seed(seed: int, rel_path: str) -> List[int]:
    """Seed entropy for one file: ``seed`` plus a hash of its SRC-relative path."""
    digest = hashlib.sha256(rel_path.replace(os.sep, '/').encode('utf-8')).digest()
    return [seed] + [int.from_bytes(digest[i:i + 4], 'little') for i in range(0, 16, 4)]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _check_folders(src: str, dst: str) -> Tuple[str, str]:
    if not os.path.exists(src):
        raise FileNotFoundError(f'SRC {src} does not exist')
    if not os.path.isdir(src):
        raise NotADirectoryError(f'SRC {src} is not a folder')
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise NotADirectoryError(f'DST {dst} exists and is not a folder')
    real_src, real_dst = os.path.realpath(src), os.path.realpath(dst)
    if _inside(real_dst, real_src):
        raise ValueError(f'DST {dst} is SRC or inside it; choose a folder outside {src} '
                         f'(SRC is never written to)')
    if _inside(real_src, real_dst):
        raise ValueError(f'DST {dst} contains SRC {src}; outputs could replace source images, '
                         f'choose a folder outside it')
    return real_src, real_dst


class _Job:
    """Degrade one file; returns ('written' | 'existing' | 'bad', reason)."""

    def __init__(self, args, params: dict, real_src: str):
        self.args = args
        self.params = params
        self.real_src = real_src

    def __call__(self, item: Tuple[str, str, str]) -> Tuple[str, str]:
        import cv2
        import numpy as np

        from ..degradations import degrade, mod_crop
        from ..image_io import read_image
        from ..utils import atomic_write

        src_path, rel, out_path = item
        if os.path.exists(out_path) and not self.args.overwrite:
            return 'existing', ''
        if _inside(os.path.realpath(out_path), self.real_src):   # e.g. a symlink inside DST
            return 'bad', f'output {out_path} would be inside SRC'
        try:
            img = read_image(src_path)   # checked first: a clear reason, no huge allocation
            h, w = img.shape[:2]
            if min(h, w) < self.params['scale']:
                return 'bad', f"{w}x{h} is smaller than --scale {self.params['scale']}"
            rng = np.random.default_rng(file_seed(self.args.seed, rel))
            lq = degrade(mod_crop(img, self.params['scale']), rng, **self.params)
        except ValueError as e:
            return 'bad', str(e).replace(src_path + ': ', '')
        ok, buf = cv2.imencode('.png', cv2.cvtColor(lq, cv2.COLOR_RGB2BGR))
        if not ok:
            return 'bad', 'PNG encoding failed'

        def write(tmp: str) -> None:
            with open(tmp, 'wb') as f:
                f.write(buf.tobytes())

        atomic_write(out_path, write)
        return 'written', ''


def run(args) -> int:
    from tqdm import tqdm

    from ..degradations import check_blur, check_prob, check_salt_ratio, check_scale
    from ..utils import IMG_EXTENSIONS, remove_stale_temp_files, scan_images

    params = dict(prob=check_prob(args.prob, '--prob'),
                  salt_ratio=check_salt_ratio(args.salt_ratio, '--salt-ratio'),
                  per_channel=bool(args.per_channel),
                  blur=check_blur(args.blur, '--blur'),
                  scale=check_scale(args.scale, '--scale'))
    if args.seed < 0:
        raise ValueError(f'--seed must be an integer >= 0, got {args.seed}')
    if args.jobs < 1:
        raise ValueError(f'--jobs must be an integer >= 1, got {args.jobs}')
    real_src, _ = _check_folders(args.src, args.dst)
    remove_stale_temp_files(args.dst)   # partial files of a killed run
    found = scan_images(args.src)
    if not found:
        raise FileNotFoundError(f"SRC {args.src}: no image files ({', '.join(IMG_EXTENSIONS)}) "
                                f'in or below it')

    items, bad = [], []
    taken = {}
    for path in found:
        rel = os.path.relpath(path, args.src)
        out_rel = os.path.splitext(rel)[0] + '.png'
        if out_rel in taken:
            bad.append((rel, f'same output name {out_rel} as {taken[out_rel]}'))
            continue
        taken[out_rel] = rel
        items.append((path, rel, os.path.join(args.dst, out_rel)))

    counts = {'written': 0, 'existing': 0}
    job = _Job(args, params, real_src)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
            tqdm(total=len(items), unit='img', desc='degrade', file=sys.stderr) as bar:
        for (_, rel, _), (status, reason) in zip(items, pool.map(job, items)):
            if status == 'bad':
                bad.append((rel, reason))
                bar.write(f'warning: skipping {rel}: {reason}', file=sys.stderr)
            else:
                counts[status] += 1
            bar.update(1)

    print(f"degrade: {counts['written']} written, {counts['existing']} skipped (already in DST), "
          f'{len(bad)} bad (skipped) -> {args.dst}')
    if bad:
        print('bad files: ' + '; '.join(f'{rel} ({why})' for rel, why in bad))
    if counts['written'] + counts['existing'] == 0:
        print(f'error: none of the {len(found)} image files under {args.src} could be '
              f'processed', file=sys.stderr)
        return 1
    return 0

