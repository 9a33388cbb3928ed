"""A corpus of awkward and broken image inputs, written into a folder for the tests.

``build_corpus(root)`` writes every entry of :data:`ENTRIES` into ``root``
(plus a symlink loop, a dangling link, an empty folder and a folder without
images next to it) and returns a :class:`Corpus` that says where each one is.
Everything is generated: nothing is tracked in the repository.
"""
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Dict

import cv2
import numpy as np

# name -> what it is. "good" entries decode to a usable picture (maybe after a conversion);
# "bad" ones are broken or unusable whatever the tool.
GOOD = {
    'photo.png': 'an ordinary 8-bit RGB PNG, 96x80',
    'camera.jpg': 'an ordinary JPEG, 96x80',
    'deep16.png': '16-bit RGB PNG',
    'rgba.png': 'RGBA PNG with a transparent corner',
    'gray.png': '8-bit grayscale PNG',
    'small.png': '20x24 PNG: smaller than a 32 crop',
    'tiny.png': '1x1 PNG',
    'caf\u00e9 na\u00efve \u5199\u771f.png': 'non-ASCII name with spaces',
    'with space.jpg': 'name with a space',
}
BAD = {
    'zero.png': 'zero-byte file',
    'truncated.png': 'PNG cut to a third of its bytes',
    'half.jpg': 'JPEG cut in the middle of its entropy-coded data',
    'text.png': 'a text file named .png',
    'huge.png': 'valid PNG header claiming 100000x100000 pixels (10 Gpx)',
    'loop.png': 'symlink loop (loop.png -> loop2.png -> loop.png)',
    'dangling.png': 'symlink to a file that does not exist',
}
# too small for a train crop of 32 (usable where no crop is taken)
SMALL = ('small.png', 'tiny.png')


@dataclass
class Corpus:
    """Where :func:`build_corpus` put things."""
    root: str                       # folder holding every GOOD and BAD entry (and a dir loop)
    files: Dict[str, str] = field(default_factory=dict)   # name -> path
    empty_dir: str = ''             # a folder with nothing in it
    no_images_dir: str = ''         # a folder with files, none of them images
    good_dir: str = ''              # a folder with GOOD entries only (and a dir loop)

    def path(self, name: str) -> str:
        return self.files[name]


def photo(height: int = 80, width: int = 96) -> np.ndarray:
    """A real photo crop (scikit-image's astronaut), uint8 BGR."""
    from skimage import data

    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack('>I', len(payload)) + kind + payload
            + struct.pack('>I', zlib.crc32(kind + payload) & 0xFFFFFFFF))


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A well-formed PNG header for a ``width`` x ``height`` RGB image, with one row of data."""
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b'\x00' + b'\x80' * (3 * min(width, 4096)))
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) + png_chunk(b'IDAT', idat)
            + png_chunk(b'IEND', b''))


def _encode(ext: str, img: np.ndarray, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


def _write(path: str, payload: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(payload)


def write_good(folder: str) -> Dict[str, str]:
    """Write the GOOD entries into ``folder``; returns name -> path."""
    os.makedirs(folder, exist_ok=True)
    img = photo()
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    rgba[:10, :10, 3] = 0
    payloads = {
        'photo.png': _encode('.png', img),
        'camera.jpg': _encode('.jpg', img, (cv2.IMWRITE_JPEG_QUALITY, 90)),
        'deep16.png': _encode('.png', img.astype(np.uint16) * 257),
        'rgba.png': _encode('.png', rgba),
        'gray.png': _encode('.png', cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)),
        'small.png': _encode('.png', img[:20, :24]),
        'tiny.png': _encode('.png', img[40:41, 40:41]),
        'caf\u00e9 na\u00efve \u5199\u771f.png': _encode('.png', img[::-1]),
        'with space.jpg': _encode('.jpg', img[:, ::-1]),
    }
    paths = {}
    for name, payload in payloads.items():
        paths[name] = os.path.join(folder, name)
        _write(paths[name], payload)
    return paths


def write_bad(folder: str) -> Dict[str, str]:
    """Write the BAD entries into ``folder``; returns name -> path."""
    os.makedirs(folder, exist_ok=True)
    img = photo()
    png = _encode('.png', img)
    # a big, detailed JPEG so that the cut falls well inside the entropy-coded data
    jpg = _encode('.jpg', cv2.resize(img, (384, 320)), (cv2.IMWRITE_JPEG_QUALITY, 95))
    paths = {name: os.path.join(folder, name) for name in BAD}
    _write(paths['zero.png'], b'')
    _write(paths['truncated.png'], png[:len(png) // 3])
    _write(paths['half.jpg'], jpg[:len(jpg) // 2])
    _write(paths['text.png'], b'this is not an image\n' * 8)
    _write(paths['huge.png'], huge_png())
    os.symlink('loop2.png', paths['loop.png'])
    os.symlink('loop.png', os.path.join(folder, 'loop2.png'))
    os.symlink('missing-target.png', paths['dangling.png'])
    return paths


def build_corpus(root) -> Corpus:
    """Write the whole corpus under ``root``.

    Layout::

        root/mixed/        every GOOD and BAD entry, and ``again -> .`` (a folder symlink loop)
        root/good/         the GOOD entries only, and ``again -> .``
        root/empty/        nothing
        root/no_images/    notes.txt, data.csv, a sub-folder with readme.md
    """
    root = os.fspath(root)
    mixed = os.path.join(root, 'mixed')
    files = write_good(mixed)
    files.update(write_bad(mixed))
    os.symlink('.', os.path.join(mixed, 'again'))
    good = os.path.join(root, 'good')
    write_good(good)
    os.symlink('.', os.path.join(good, 'again'))
    empty = os.path.join(root, 'empty')
    os.makedirs(empty)
    no_images = os.path.join(root, 'no_images')
    os.makedirs(os.path.join(no_images, 'sub'))
    for rel, text in (('notes.txt', 'notes'), ('data.csv', 'a,b\n1,2\n'),
                      (os.path.join('sub', 'readme.md'), '# readme')):
        with open(os.path.join(no_images, rel), 'w') as f:
            f.write(text)
    return Corpus(root=mixed, files=files, empty_dir=empty, no_images_dir=no_images,
                  good_dir=good)
