"""Small shared helpers: atomic file writes and image-file discovery."""
import os
import pickle
import tempfile
from pathlib import Path
from typing import Callable, Iterable, List, Union

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write: Callable[[str], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename.

    ``write(tmp_path)`` produces the file; if it raises, or the process is
    killed, an existing ``path`` is left untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix=suffix, dir=folder)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_pickle(obj, path: PathLike) -> None:
    """Pickle ``obj`` to ``path`` atomically (ppgan's checkpoint format)."""
    def write(tmp):
        with open(tmp, 'wb') as f:
            pickle.dump(obj, f, protocol=2)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def scan_images(folder: PathLike, recursive: bool = True) -> List[str]:
    """Sorted paths of the image files under ``folder``.

    Symlinked folders are followed once; a symlink loop is not followed twice.
    """
    root = Path(folder)
    found = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMG_EXTENSIONS):
                found.append(os.path.join(dirpath, name))
        if not recursive:
            break
    return sorted(found)


def is_image_file(path: PathLike, extensions: Iterable[str] = IMG_EXTENSIONS) -> bool:
    return os.fspath(path).lower().endswith(tuple(extensions))
