"""Small shared helpers: atomic file writes and image-file discovery."""
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable, List, Tuple, Union

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')

PathLike = Union[str, os.PathLike]


def _file_mode() -> int:
    """The mode a plain ``open(path, 'w')`` would give a new file (0o666 less umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


TMP_PREFIX = '.tmp-'
_STALE_TMP = re.compile(r'\.tmp-(\d+)-')


def atomic_write(path: PathLike, write: Callable[[str], None]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename.

    ``write(tmp_path)`` produces the file; if it raises, or the process is
    killed, an existing ``path`` is left untouched. The temporary file is
    named ``.tmp-<pid>-<random><ext>`` (hidden, so :func:`scan_images` never
    takes it for an input); one left by a killed process is removed by
    :func:`remove_stale_temp_files`.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=f'{TMP_PREFIX}{os.getpid()}-', suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(folder: PathLike) -> List[str]:
    """Delete the temporary files that killed writers left under ``folder``.

    Only files named by :func:`atomic_write` (``.tmp-<pid>-...``) whose
    process no longer runs on this machine are removed; symlinked folders are
    not followed. Returns the removed paths.
    """
    removed = []
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return removed
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            found = _STALE_TMP.match(name)
            if found and not _pid_alive(int(found.group(1))):
                path = os.path.join(dirpath, name)
                try:
                    os.remove(path)
                    removed.append(path)
                except OSError:
                    pass
    return removed


def scan_images(folder: PathLike, recursive: bool = True,
                extensions: Iterable[str] = IMG_EXTENSIONS,
                case_sensitive: bool = False) -> List[str]:
    """Sorted paths of the image files under ``folder``.

    Symlinked folders are followed once; a symlink loop is not followed twice.
    Hidden files and folders (names starting with ``.``: temporary files of
    interrupted writes, macOS ``._*`` resource forks, ``.ipynb_checkpoints``)
    are left out.

    Args:
        folder (str): Folder to search.
        recursive (bool): Search sub-folders too. Default: True.
        extensions (Iterable[str]): File name endings that count as images.
            Default: :data:`IMG_EXTENSIONS`.
        case_sensitive (bool): Match ``extensions`` exactly instead of
            ignoring case. Default: False.
    """
    root = Path(folder)
    extensions = tuple(extensions) if case_sensitive else tuple(e.lower() for e in extensions)
    found = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        for name in filenames:
            if not name.startswith('.') and \
                    (name if case_sensitive else name.lower()).endswith(extensions):
                found.append(os.path.join(dirpath, name))
        if not recursive:
            break
    return sorted(found)


def missing_path_message(path: PathLike, key: str) -> str:
    """``'<key>: no such file or folder: <path>'``, or why an existing link cannot be followed."""
    path = os.fspath(path)
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as e:
            return f'{key}: {path}: broken symbolic link ({e.strerror or type(e).__name__})'
    return f'{key}: no such file or folder: {path}'


def is_image_file(path: PathLike, extensions: Iterable[str] = IMG_EXTENSIONS) -> bool:
    return os.fspath(path).lower().endswith(tuple(extensions))


def plan_png_outputs(source: str, output: str, flag: str = '--input') -> List[Tuple[str, str]]:
    """(input image, output PNG) pairs for an image or a folder of images (recursive).

    Outputs keep the relative path with a ``.png`` suffix; ``a.jpg`` next to
    ``a.png`` becomes ``a_jpg.png``.

    Raises:
        FileNotFoundError / ValueError: naming ``flag``: no input, no images, or
            an output that would overwrite an input image.
    """
    if os.path.isdir(source):
        sources = scan_images(source)
        if not sources:
            raise ValueError(f"{flag}: no images ({', '.join(IMG_EXTENSIONS)}) in {source}")
        rels = [os.path.relpath(p, source) for p in sources]
    elif os.path.isfile(source):
        if not is_image_file(source):
            raise ValueError(f"{flag}: {source} is not an image file "
                             f"({', '.join(IMG_EXTENSIONS)})")
        sources, rels = [source], [os.path.basename(source)]
    else:
        raise FileNotFoundError(missing_path_message(source, flag))
    pairs, taken = [], set()
    for src, rel in zip(sources, rels):
        stem, ext = os.path.splitext(rel)
        dst = os.path.join(output, stem + '.png')
        if os.path.realpath(dst) in taken:
            dst = os.path.join(output, f'{stem}_{ext[1:].lower()}.png')
        taken.add(os.path.realpath(dst))
        pairs.append((src, dst))
    real_sources = {os.path.realpath(p) for p in sources}
    for _, dst in pairs:
        if os.path.realpath(dst) in real_sources:
            raise ValueError(f"--output: writing {dst} would overwrite an input image; "
                             f"choose another output folder")
    return pairs
