"""Uploads and jobs of the web app: one work folder, a bounded queue, one worker thread.

Everything the app writes goes under its work folder::

    WORK/uploads/<id>.<ext>     uploaded photos and style images
    WORK/results/<id>.png       finished results

Only the newest ``keep`` uploads and ``keep`` finished jobs are kept (older
files are deleted), at most ``max_queue`` jobs wait or run at once (a
request beyond that is refused with a "busy" message), and one worker thread
runs the models, so memory stays bounded whatever the number of requests.
Ids are random hex strings made here; no name sent by a browser is ever used
as a path.
"""
import collections
import os
import queue
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..image_io import check_image_file

ID_PATTERN = re.compile(r'^[0-9a-f]{16}$')
_EXTENSIONS = {b'\x89PNG': '.png', b'\xff\xd8\xff': '.jpg', b'BM': '.bmp', b'RIFF': '.webp',
               b'II*\x00': '.tif', b'MM\x00*': '.tif'}


class BusyError(Exception):
    """The queue is full: the request is refused, nothing is stored."""


def new_id() -> str:
    return secrets.token_hex(8)


def sniff_extension(head: bytes) -> Optional[str]:
    """File extension from the first bytes (PNG, JPEG, BMP, WebP, TIFF), None if unknown."""
    for magic, ext in _EXTENSIONS.items():
        if head.startswith(magic):
            return ext
    return None


def safe_name(name: str) -> str:
    """A file name from the browser reduced to a safe base name (for messages)."""
    base = os.path.basename(str(name).replace('\\', '/'))
    return re.sub(r'[^A-Za-z0-9._-]+', '_', base).strip('._')[:80] or 'image'


def display_name(name: str) -> str:
    """A file name from the browser reduced to a safe download stem."""
    return os.path.splitext(safe_name(name))[0].strip('._') or 'image'


@dataclass
class Upload:
    id: str
    path: str
    name: str
    height: int
    width: int


@dataclass
class Job:
    """One restore or stylize run, as the page polls it."""
    id: str
    mode: str
    name: str
    state: str = 'queued'          # queued, running, done, error
    progress: float = 0.0
    stage: str = 'waiting'
    message: str = ''
    result: Optional[str] = None
    height: int = 0
    width: int = 0
    created: float = field(default_factory=time.time)

    def public(self) -> dict:
        return {'id': self.id, 'mode': self.mode, 'name': self.name, 'state': self.state,
                'progress': round(self.progress, 3), 'stage': self.stage,
                'message': self.message, 'height': self.height, 'width': self.width,
                'download': f'{self.name}_{self.mode}d.png' if self.state == 'done' else None}


class JobStore:
    """Uploads, the job queue and the worker thread.

    Args:
        work_dir (str): The app's work folder (created; nothing is written elsewhere).
        max_pixels (int): Uploads with more pixels are refused.
        max_queue (int): Jobs waiting or running at once. Default: 4.
        keep (int): Uploads and finished jobs kept on disk. Default: 32.
    """

    def __init__(self, work_dir: str, max_pixels: int, max_queue: int = 4, keep: int = 32):
        if max_queue < 1 or keep < 1:
            raise ValueError(f"--max-queue and keep must be >= 1, got {max_queue}, {keep}")
        self.work_dir = os.path.abspath(work_dir)
        self.upload_dir = os.path.join(self.work_dir, 'uploads')
        self.result_dir = os.path.join(self.work_dir, 'results')
        claim_work_dir(self.work_dir)
        for folder in (self.upload_dir, self.result_dir):
            shutil.rmtree(folder, ignore_errors=True)   # leftovers of an earlier run
            os.makedirs(folder)
        self.max_pixels = max_pixels
        self.max_queue = max_queue
        self.keep = keep
        self.uploads: 'collections.OrderedDict[str, Upload]' = collections.OrderedDict()
        self.jobs: 'collections.OrderedDict[str, Job]' = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queue: 'queue.Queue' = queue.Queue()
        self._active = 0
        self._worker: Optional[threading.Thread] = None

    # ------------------------------------------------------------ uploads
    def partial_path(self) -> str:
        """A new file name in the upload folder for a body being received."""
        return os.path.join(self.upload_dir, f'.partial-{new_id()}')

    def add_upload(self, data: bytes, name: str) -> Upload:
        """:meth:`add_upload_file` for bytes in memory."""
        path = self.partial_path()
        with open(path, 'wb') as f:
            f.write(data)
        return self.add_upload_file(path, name)

    def add_upload_file(self, received: str, name: str) -> Upload:
        """Keep a received file (in the upload folder) after checking it.

        Checked: not empty, an image format by its first bytes (PNG, JPEG, BMP,
        WebP, TIFF), not truncated, at most ``max_pixels`` pixels.

        Raises:
            ValueError: one line for the page; the file is deleted.
        """
        label = safe_name(name)
        try:
            with open(received, 'rb') as f:
                head = f.read(8)
            if not head:
                raise ValueError(f"{label}: empty upload")
            ext = sniff_extension(head)
            if ext is None:
                raise ValueError(f"{label}: not an image (PNG, JPEG, BMP, WebP or TIFF "
                                 f"expected)")
            upload_id = new_id()
            path = os.path.join(self.upload_dir, upload_id + ext)
            os.replace(received, path)
            received = path
            try:
                height, width = check_image_file(path)
            except ValueError as e:
                raise ValueError(f"{label}: {e}") from None
            if height * width > self.max_pixels:
                raise ValueError(f"{label}: {width}x{height} = {height * width} pixels, more "
                                 f"than the limit of {self.max_pixels}")
        except BaseException:
            _remove(received)
            raise
        upload = Upload(upload_id, path, display_name(name), height, width)
        with self._lock:
            self.uploads[upload_id] = upload
            while len(self.uploads) > self.keep:
                _, old = self.uploads.popitem(last=False)
                _remove(old.path)
        return upload

    def upload(self, upload_id: str) -> Upload:
        with self._lock:
            found = self.uploads.get(upload_id) if ID_PATTERN.match(upload_id or '') else None
        if found is None:
            raise KeyError(f"upload {upload_id!r} is gone (uploads are kept for the newest "
                           f"{self.keep} files); upload it again")
        return found

    # ------------------------------------------------------------ jobs
    def submit(self, mode: str, name: str, run: Callable[[Job, str], None]) -> Job:
        """Queue ``run(job, result_path)``; :class:`BusyError` when ``max_queue`` are pending."""
        with self._lock:
            if self._active >= self.max_queue:
                raise BusyError(f"busy: {self._active} job(s) are waiting or running (limit "
                                f"{self.max_queue}); try again in a moment")
            self._active += 1
            job = Job(new_id(), mode, name)
            self.jobs[job.id] = job
            self._trim_jobs()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name='ppgan-ext-serve-worker',
                                                daemon=True)
                self._worker.start()
        self._queue.put((job, run))
        return job

    def job(self, job_id: str) -> Optional[Job]:
        with self._lock:
            return self.jobs.get(job_id) if ID_PATTERN.match(job_id or '') else None

    def _trim_jobs(self) -> None:
        finished = [j for j in self.jobs.values() if j.state in ('done', 'error')]
        for old in finished[:max(0, len(finished) - self.keep)]:
            del self.jobs[old.id]
            if old.result:
                _remove(old.result)

    def _work(self) -> None:
        while True:
            job, run = self._queue.get()
            job.state, job.stage = 'running', 'starting'
            result = os.path.join(self.result_dir, job.id + '.png')
            try:
                run(job, result)
                job.result, job.state, job.progress, job.stage = result, 'done', 1.0, 'done'
            except (ValueError, KeyError, FileNotFoundError, MemoryError) as e:
                job.state, job.stage = 'error', 'failed'
                job.message = (str(e).splitlines() or [type(e).__name__])[0]
            except Exception as e:  # a model failure must not stop the worker
                job.state, job.stage = 'error', 'failed'
                job.message = f"internal error: {type(e).__name__}: " \
                              f"{(str(e).splitlines() or [''])[0][:200]}"
            finally:
                with self._lock:
                    self._active -= 1
                    self._trim_jobs()


MARKER = '.ppgan-ext-serve'


def claim_work_dir(work_dir: str) -> None:
    """Make ``work_dir`` the app's: it must be new, empty, or an earlier run's work folder.

    Raises:
        ValueError: the folder holds other files (they are never touched).
    """
    if os.path.exists(work_dir) and not os.path.isdir(work_dir):
        raise ValueError(f"--work-dir {work_dir}: is a file")
    os.makedirs(work_dir, exist_ok=True)
    marker = os.path.join(work_dir, MARKER)
    if not os.path.isfile(marker):
        if os.listdir(work_dir):
            raise ValueError(f"--work-dir {work_dir}: holds other files; give a new or empty "
                             f"folder (the app deletes old uploads and results in it)")
        with open(marker, 'w', encoding='utf-8') as f:
            f.write('work folder of `paddlegan serve`\n')


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
