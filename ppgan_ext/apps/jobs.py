"""Uploads and jobs of the web app: a bounded queue, one worker thread, files under one folder.

Everything is written under the work folder given to :class:`JobStore`::

    WORK/uploads/<id>.<ext>     uploaded photos and style images
    WORK/results/<id>.png       finished results

Only the newest ``keep`` uploads and ``keep`` finished jobs are kept (older
files are deleted), except that an upload stays while a job that uses it
waits or runs (a job accepted is never failed by newer uploads), and a
recent upload stays for a grace period, up to ``2 * keep`` uploads (a photo
refused as busy can be queued a moment later). At most
``max_queue`` jobs wait or run at once and at most ``max_receiving`` uploads
are received at once (a request beyond either is refused with a "busy"
message), and one worker thread runs the models, so memory and disk stay
bounded whatever the number of requests. Ids are random hex strings made
here; no name sent by a browser is ever used as a path, and no message shows
a server path (only the names the user gave).
"""
import collections
import os
import queue
import re
import secrets
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, Optional, Sequence

from ..image_io import check_image_file

ID_PATTERN = re.compile(r'^[0-9a-f]{16}$')
_EXTENSIONS = {b'\x89PNG': '.png', b'\xff\xd8\xff': '.jpg', b'BM': '.bmp', b'RIFF': '.webp',
               b'II*\x00': '.tif', b'MM\x00*': '.tif'}
STATES = ('queued', 'running', 'done', 'error')

# progress(fraction done in [0, 1], what is happening); raises JobCancelled when the store closes
Progress = Callable[[float, str], None]


class BusyError(Exception):
    """The queue (or the number of uploads being received) is full: nothing is stored."""


class JobCancelled(Exception):
    """Raised inside a running job when the store closes (the app stops)."""


def new_id() -> str:
    """A random 16-digit hex id."""
    return secrets.token_hex(8)


def sniff_extension(head: bytes) -> Optional[str]:
    """File extension from the first bytes (PNG, JPEG, BMP, WebP, TIFF), None if unknown."""
    for magic, ext in _EXTENSIONS.items():
        if head.startswith(magic):
            return ext
    return None


def safe_name(name: str) -> str:
    """A file name from the browser reduced to a safe base name (for messages).

    Letters and digits of any script are kept (``фото.png`` stays), every run
    of other characters becomes ``_``; at most 80 characters.
    """
    base = os.path.basename(str(name).replace('\\', '/'))
    return re.sub(r'[^\w.-]+', '_', base).strip('._')[:80] or 'image'


def display_name(name: str) -> str:
    """A file name from the browser reduced to a safe download stem."""
    return os.path.splitext(safe_name(name))[0].strip('._') or 'image'


@dataclass
class Upload:
    """A received image: its file, the user's name for it and its size; ``holds`` jobs use it."""
    id: str
    path: str
    name: str
    label: str
    height: int
    width: int
    holds: int = 0
    created: float = field(default_factory=time.time)


@dataclass
class Job:
    """One restore or stylize run, as the page polls it."""
    id: str
    mode: str
    name: str
    state: str = 'queued'          # one of STATES
    progress: float = 0.0
    stage: str = 'waiting'
    message: str = ''
    result: Optional[str] = None
    height: int = 0
    width: int = 0
    created: float = field(default_factory=time.time)
    uploads: Sequence[Upload] = ()

    @property
    def download(self) -> str:
        """The result's file name for the user: ``<photo stem>_<mode>d.png``."""
        return f'{self.name}_{self.mode}d.png'

    def public(self) -> dict:
        """The job as the page sees it (JSON-ready; no server path)."""
        return {'id': self.id, 'mode': self.mode, 'name': self.name, 'state': self.state,
                'progress': round(self.progress, 3), 'stage': self.stage,
                'message': self.message, 'height': self.height, 'width': self.width,
                'download': self.download if self.state == 'done' else None}


# run(job, result path, progress): writes the result PNG, sets job.height/width
Run = Callable[[Job, str, Progress], None]


class JobStore:
    """Uploads, the job queue and the worker thread.

    Args:
        work_dir (str): The app's work folder; ``uploads/`` and ``results/``
            in it are emptied and created (the caller owns the folder, see
            :class:`ppgan_ext.apps.work_dir.WorkDir`).
        max_pixels (int): Uploads with more pixels are refused.
        max_queue (int): Jobs waiting or running at once. Default: 8.
        keep (int): Uploads and finished jobs kept on disk (uploads that a
            waiting or running job uses are kept in addition). Default: 32.
        max_receiving (int): Uploads received at once. Default: 16.
        grace (float): Seconds an upload is kept even beyond ``keep`` (so
            that a photo uploaded while the queue is full can still be
            queued), as long as at most ``2 * keep`` are kept. Default: 300.
    """

    def __init__(self, work_dir: str, max_pixels: int, max_queue: int = 8, keep: int = 32,
                 max_receiving: int = 16, grace: float = 300.0):
        for key, value in (('max_pixels', max_pixels), ('max_queue', max_queue), ('keep', keep),
                           ('max_receiving', max_receiving)):
            if value < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        self.work_dir = os.path.abspath(work_dir)
        self.upload_dir = os.path.join(self.work_dir, 'uploads')
        self.result_dir = os.path.join(self.work_dir, 'results')
        for folder in (self.upload_dir, self.result_dir):
            shutil.rmtree(folder, ignore_errors=True)   # leftovers of an earlier run
            os.makedirs(folder)
        self.max_pixels = max_pixels
        self.max_queue = max_queue
        self.keep = keep
        self.max_receiving = max_receiving
        self.grace = grace
        self.uploads: 'collections.OrderedDict[str, Upload]' = collections.OrderedDict()
        self.jobs: 'collections.OrderedDict[str, Job]' = collections.OrderedDict()
        self._lock = threading.Lock()
        self._queue: 'queue.Queue' = queue.Queue()
        self._active = 0
        self._receiving = 0
        self._closing = threading.Event()
        self._worker: Optional[threading.Thread] = None

    # ------------------------------------------------------------ uploads
    @contextmanager
    def receiving(self) -> Iterator[str]:
        """A new file name in the upload folder for a body being received.

        At most ``max_receiving`` at once (:class:`BusyError` beyond); the
        file is deleted on leaving unless :meth:`add_upload_file` took it.
        """
        with self._lock:
            if self._receiving >= self.max_receiving:
                raise BusyError(f"busy: {self._receiving} uploads are being received (limit "
                                f"{self.max_receiving}); try again in a moment")
            self._receiving += 1
        path = os.path.join(self.upload_dir, f'.partial-{new_id()}')
        try:
            yield path
        finally:
            _remove(path)
            with self._lock:
                self._receiving -= 1

    def add_upload(self, data: bytes, name: str) -> Upload:
        """:meth:`add_upload_file` for bytes in memory."""
        with self.receiving() as path:
            with open(path, 'wb') as f:
                f.write(data)
            return self.add_upload_file(path, name)

    def add_upload_file(self, received: str, name: str) -> Upload:
        """Keep a received file (in the upload folder) after checking it.

        Checked: not empty, an image format by its first bytes (PNG, JPEG, BMP,
        WebP, TIFF), not truncated, at most ``max_pixels`` pixels.

        Raises:
            ValueError: one line for the page, naming the user's file; the
                file is deleted.
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
                raise ValueError(f"{label}: {self.public_message(str(e), {path: label})}") \
                    from None
            if height * width > self.max_pixels:
                raise ValueError(f"{label}: {width}x{height} = {height * width} pixels, more "
                                 f"than the limit of {self.max_pixels}")
        except BaseException:
            _remove(received)
            raise
        upload = Upload(upload_id, path, display_name(name), label, height, width)
        with self._lock:
            self.uploads[upload_id] = upload
            self._trim_uploads()
        return upload

    def upload(self, upload_id: str) -> Upload:
        """The upload of an id; KeyError (a message for the page) when unknown or deleted."""
        with self._lock:
            return self._upload(upload_id)

    def _upload(self, upload_id: str) -> Upload:
        found = self.uploads.get(upload_id) if ID_PATTERN.match(upload_id or '') else None
        if found is None:
            raise KeyError(f"upload {upload_id!r} is gone (uploads are kept for the newest "
                           f"{self.keep} files); upload it again")
        return found

    def _trim_uploads(self) -> None:
        """Delete the oldest uploads that no pending job holds beyond the newest ``keep``.

        Uploads younger than ``grace`` seconds stay while at most ``2 * keep``
        unheld uploads are kept.
        """
        free = [u for u in self.uploads.values() if u.holds == 0]   # oldest first
        count, now = len(free), time.time()
        for old in free:
            if count <= self.keep or (count <= 2 * self.keep and now - old.created < self.grace):
                break
            del self.uploads[old.id]
            _remove(old.path)
            count -= 1

    # ------------------------------------------------------------ jobs
    def submit(self, mode: str, upload_ids: Sequence[str], run: Run) -> Job:
        """Queue ``run(job, result_path, progress)`` for the uploads ``upload_ids``.

        The job is named after the first upload and holds all of them until
        it ends, so newer uploads never delete its inputs.

        Raises:
            KeyError: an upload id is unknown or its file was deleted.
            BusyError: ``max_queue`` jobs are waiting or running.
        """
        if self._closing.is_set():
            raise BusyError('the app is stopping; try again when it is back')
        with self._lock:
            uploads = [self._upload(i) for i in upload_ids]
            if self._active >= self.max_queue:
                raise BusyError(f"busy: {self._active} job(s) are waiting or running (limit "
                                f"{self.max_queue}); try again in a moment")
            self._active += 1
            for upload in uploads:
                upload.holds += 1
            job = Job(new_id(), mode, uploads[0].name if uploads else mode, uploads=uploads)
            self.jobs[job.id] = job
            self._trim_jobs()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name='ppgan-ext-serve-worker',
                                                daemon=True)
                self._worker.start()
        self._queue.put((job, run))
        return job

    def job(self, job_id: str) -> Optional[Job]:
        """The job of an id, None if unknown (or finished long ago)."""
        with self._lock:
            return self.jobs.get(job_id) if ID_PATTERN.match(job_id or '') else None

    def counts(self) -> Dict[str, int]:
        """How many jobs are in each state (of those still listed)."""
        with self._lock:
            states = [j.state for j in self.jobs.values()]
        return {s: states.count(s) for s in STATES}

    def _trim_jobs(self) -> None:
        finished = [j for j in self.jobs.values() if j.state in ('done', 'error')]
        for old in finished[:max(0, len(finished) - self.keep)]:
            del self.jobs[old.id]
            if old.result:
                _remove(old.result)

    def public_message(self, message: str, names: Dict[str, str]) -> str:
        """``message`` with server paths replaced by the user's names (``names``: path -> name)."""
        for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(path, name)
        # any other path in the work folder: its file name only; other absolute paths: hidden
        message = re.sub(re.escape(self.work_dir) + r'[/\\][^\s\'",:;)]*',
                         lambda m: os.path.basename(m.group(0)), message)
        return re.sub(r'(?<![\w.])/(?:[\w.-]+/)+([\w.-]+)', r'\1', message)

    def _progress(self, job: Job) -> Progress:
        def update(fraction: float, stage: str) -> None:
            if self._closing.is_set():
                raise JobCancelled('the app stopped before the job finished')
            job.progress, job.stage = max(0.0, min(1.0, fraction)), stage
        return update

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job, run = item
            result = os.path.join(self.result_dir, job.id + '.png')
            names = {u.path: u.label for u in job.uploads}
            names[result] = job.download
            try:
                if self._closing.is_set():
                    raise JobCancelled('the app stopped before the job started')
                job.state, job.stage = 'running', 'starting'
                run(job, result, self._progress(job))
                job.result, job.state, job.progress, job.stage = result, 'done', 1.0, 'done'
            except (ValueError, KeyError, FileNotFoundError, MemoryError, JobCancelled) as e:
                job.state, job.stage = 'error', 'failed'
                text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
                job.message = self.public_message(
                    (str(text).splitlines() or [type(e).__name__])[0], names)
            except Exception as e:  # a model failure must not stop the worker
                job.state, job.stage = 'error', 'failed'
                job.message = self.public_message(
                    f"internal error: {type(e).__name__}: "
                    f"{(str(e).splitlines() or [''])[0][:200]}", names)
            finally:
                with self._lock:
                    self._active -= 1
                    for upload in job.uploads:
                        upload.holds -= 1
                    self._trim_jobs()
                    self._trim_uploads()

    def close(self, timeout: float = 10.0) -> bool:
        """Refuse new jobs, stop the running one at its next progress step, end the worker.

        Returns:
            bool: True when the worker ended within ``timeout`` seconds.
        """
        self._closing.set()
        self._queue.put(None)
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
