"""The web app's work folder: one running app per folder, held by a lock on its marker file.

A folder is the app's when it is new, empty, or holds the marker file
``.ppgan-ext-serve`` of an earlier run; a folder with other files is refused
(they are never touched). While an app runs it holds an exclusive ``flock``
on the marker (the kernel drops it when the process ends, however it ends),
so a second app on the same folder stops with one line before it deletes
anything. A folder this object created is removed again by
:meth:`WorkDir.release` with ``remove=True``.
"""
import fcntl
import os
import shutil
from typing import Optional

MARKER = '.ppgan-ext-serve'


class WorkDirBusy(ValueError):
    """Another running app holds the folder."""


class WorkDir:
    """Claim, lock and release an app's work folder.

    Args:
        path (str): The folder (created when missing).
        key (str): The option named in messages. Default: '--work-dir'.
    """

    def __init__(self, path: str, key: str = '--work-dir'):
        self.path = os.path.abspath(path)
        self.key = key
        self.created = False
        self._fd: Optional[int] = None

    @property
    def marker(self) -> str:
        return os.path.join(self.path, MARKER)

    def claim(self) -> 'WorkDir':
        """Lock the folder for this process.

        Raises:
            WorkDirBusy: another app runs on the folder (nothing is changed).
            ValueError: the path is a file, or a folder with other files.
        """
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ValueError(f"{self.key} {self.path}: is a file")
        if not os.path.isdir(self.path):
            os.makedirs(self.path)
            self.created = True
        elif not os.path.isfile(self.marker) and os.listdir(self.path):
            raise ValueError(f"{self.key} {self.path}: holds other files; give a new or empty "
                             f"folder (the app deletes old uploads and results in it)")
        fd = os.open(self.marker, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.read(fd, 200).decode('utf-8', 'replace').split('pid', 1)[-1].strip()
            os.close(fd)
            raise WorkDirBusy(f"{self.key} {self.path}: another `paddlegan serve` is running "
                              f"on this folder (pid {owner or '?'}); stop it or give another "
                              f"folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f'work folder of `paddlegan serve`, pid {os.getpid()}\n'.encode())
        self._fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        """Unlock; with ``remove`` delete the whole folder (a temporary or never used one)."""
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
