"""Fetch weight files into ppgan's cache: atomic, checked, with a progress bar.

One downloader serves the named pretrained models (:func:`fetch_weights`) and
the weights ppgan itself fetches at run time (VGG for perceptual losses,
InceptionV3 for FID, ...: :func:`ppgan_ext.compat.patch_weight_downloads`
routes ppgan's and Paddle's ``_download`` here). Files land where ppgan puts
them (``ppgan.utils.download.PPGAN_HOME``, ``~/.cache/ppgan``, for the
published applications; Paddle's ``WEIGHTS_HOME`` for what ppgan fetches
through Paddle), so a file ppgan already fetched is reused as is.

* **Atomic.** The transfer goes to a hidden temporary file in the target
  folder, is checked, and only then renamed to its final name: an
  interrupted or refused download leaves nothing under the final name.
* **Checked.** A transfer shorter than the announced length, an HTML page, or
  a file whose bytes are not what its name claims (a ``.pdparams`` pickle cut
  short, a bad archive, a bad ``.npy``) is refused with one line. The sha256
  of every file is recorded at first download (or first use of a file ppgan
  fetched) in ``SHA256_FILE`` beside the files, and checked on every later
  use: a mismatch is one line naming the file.
* **Offline.** With ``PPGAN_EXT_OFFLINE=1``, or when the server cannot be
  reached, one line names the URL and the exact path to put the file at.

This module imports neither Paddle nor ppgan at module level.
"""
import hashlib
import json
import os
import pickletools
import sys
import tarfile
import tempfile
import zipfile
from typing import Dict, Optional

__all__ = ['WeightsUnavailable', 'WeightsCorrupt', 'SHA256_FILE', 'OFFLINE_ENV', 'ppgan_home',
           'is_offline', 'download', 'verify', 'fetch', 'fetch_weights', 'weights_path',
           'read_sha256_records']

SHA256_FILE = 'ppgan_ext_sha256.json'
OFFLINE_ENV = 'PPGAN_EXT_OFFLINE'
_CHUNK = 1 << 16
_TIMEOUT = 30


class WeightsUnavailable(FileNotFoundError):
    """A weight file is not on disk and cannot be downloaded now (offline, HTTP error)."""

    def __str__(self):
        return str(self.args[0])


class WeightsCorrupt(ValueError):
    """A weight file is not what it claims to be, or no longer matches its recorded sha256."""


def ppgan_home() -> str:
    """ppgan's own download folder (``ppgan.utils.download.PPGAN_HOME``), read at call time.

    When ppgan is not imported yet its default, ``~/.cache/ppgan``, is used
    without importing it (that would load Paddle).
    """
    module = sys.modules.get('ppgan.utils.download')
    home = getattr(module, 'PPGAN_HOME', None)
    return home or os.path.expanduser(os.path.join('~', '.cache', 'ppgan'))


def is_offline() -> bool:
    """True when ``PPGAN_EXT_OFFLINE=1`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, '') not in ('', '0')


def _put_it_at(url: str, path: str, why: str) -> WeightsUnavailable:
    return WeightsUnavailable(f"{os.path.basename(path)} is not on disk and {why}: "
                              f"fetch {url} and put it at {path}")


# ------------------------------------------------------------------ records
def read_sha256_records(folder: str) -> Dict[str, str]:
    """``{file name: sha256}`` recorded in ``folder`` (empty when none or unreadable)."""
    try:
        with open(os.path.join(folder, SHA256_FILE), encoding='utf-8') as f:
            data = json.load(f)
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _record_sha256(folder: str, name: str, digest: str) -> None:
    records = read_sha256_records(folder)
    records[name] = digest
    fd, tmp = tempfile.mkstemp(prefix=f'.{SHA256_FILE}.', dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(dict(sorted(records.items())), f, indent=1)
        os.replace(tmp, os.path.join(folder, SHA256_FILE))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ content checks
def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip()[:256].lower()
    return text.startswith((b'<!doctype', b'<html', b'<?xml', b'<head', b'<body')) \
        or b'<html' in text


def _check_pickle(path: str) -> Optional[str]:
    with open(path, 'rb') as f:
        data = f.read()
    if not data or data[0] != 0x80:
        return 'not a pickle (a .pdparams file written by paddle.save)'
    last = None
    try:
        for op, _, _ in pickletools.genops(data):
            last = op.name
    except Exception:   # noqa: BLE001  (pickletools raises ValueError and others)
        return 'a pickle cut short or damaged'
    return None if last == 'STOP' else 'a pickle cut short'


def _check_npy(path: str) -> Optional[str]:
    import numpy as np

    try:
        with open(path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            start = f.tell()
    except Exception:   # noqa: BLE001
        return 'not a .npy file'
    if dtype.hasobject:
        return None   # pickled objects inside: length is not fixed
    want = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return None if os.path.getsize(path) == want else \
        f'a .npy file cut short ({os.path.getsize(path)} of {want} bytes)'


def _check_archive(path: str) -> Optional[str]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return None if z.testzip() is None else 'a damaged zip archive'
    try:
        with tarfile.open(path, 'r:*') as t:
            for _ in t:
                pass
        return None
    except (tarfile.TarError, OSError, EOFError):
        return 'not a complete tar/zip archive'


def check_content(path: str, label: Optional[str] = None) -> None:
    """Refuse a file that is not what its name claims (one line).

    ``.pdparams``/``.pdopt``/``.pkl``: a complete pickle; ``.npy``: header and
    length agree; ``.tar``/``.gz``/``.tgz``/``.zip``: a readable archive;
    anything: not an HTML page.

    Args:
        path (str): File to check.
        label (str, optional): Path named in the error and whose name decides
            the kind (a download's final path). Default: ``path``.

    Raises:
        WeightsCorrupt: naming ``label`` and what is wrong.
    """
    label = label or path
    name = os.path.basename(label).lower()
    with open(path, 'rb') as f:
        head = f.read(512)
    if not head:
        raise WeightsCorrupt(f'{label}: empty file')
    if _looks_like_html(head):
        raise WeightsCorrupt(f'{label}: an HTML page, not a weight file')
    problem = None
    if name.endswith(('.pdparams', '.pdopt', '.pkl', '.pdparams.tar')):
        problem = _check_pickle(path)
    elif name.endswith('.npy'):
        problem = _check_npy(path)
    elif name.endswith(('.tar', '.gz', '.tgz', '.zip')):
        problem = _check_archive(path)
    if problem:
        raise WeightsCorrupt(f'{label}: {problem}')


def verify(path: str, expected_sha256: Optional[str] = None) -> str:
    """Check ``path`` against its recorded (or the given) sha256; record it if new.

    Returns:
        str: The file's sha256.

    Raises:
        WeightsCorrupt: the file's sha256 differs from the record, or (first
            use) its content is not what its name claims.
    """
    folder, name = os.path.split(os.path.abspath(path))
    digest = _sha256(path)
    recorded = read_sha256_records(folder).get(name) or expected_sha256
    if recorded is None:
        check_content(path)
        _record_sha256(folder, name, digest)
    elif digest != recorded:
        raise WeightsCorrupt(f'{path}: sha256 {digest[:12]}... differs from the one recorded at '
                             f'download ({recorded[:12]}...); delete it to download it again')
    return digest


# ------------------------------------------------------------------ transfer
def download(url: str, path: str, progress: bool = True) -> str:
    """Download ``url`` to ``path`` atomically; check and record its sha256.

    Args:
        url (str): http(s) address.
        path (str): Final file path; its folder is created if needed.
        progress (bool): tqdm progress bar on stderr. Default: True.

    Returns:
        str: ``path``.

    Raises:
        WeightsUnavailable: offline (``PPGAN_EXT_OFFLINE=1`` or no
            connection) or an HTTP error; the message names the URL and path.
        WeightsCorrupt: the transfer was cut short or the file is not what
            its name claims. Nothing is left under ``path``.
    """
    if is_offline():
        raise _put_it_at(url, path, f'downloads are off ({OFFLINE_ENV}=1)')
    import requests
    from tqdm import tqdm

    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        response = requests.get(url, stream=True, timeout=_TIMEOUT)
    except requests.exceptions.RequestException as e:
        reason = type(e).__name__
        raise _put_it_at(url, path, f'{url} cannot be reached ({reason})') from None
    with response:
        if response.status_code != 200:
            raise _put_it_at(url, path, f'the server answered HTTP {response.status_code}')
        total = response.headers.get('content-length')
        total = int(total) if total and total.isdigit() else None
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.part', dir=folder)
        received = 0
        try:
            with os.fdopen(fd, 'wb') as f, tqdm(total=total, unit='B', unit_scale=True,
                                                unit_divisor=1024, desc=name, file=sys.stderr,
                                                disable=not progress, leave=False) as bar:
                try:
                    for chunk in response.iter_content(chunk_size=_CHUNK):
                        f.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                except requests.exceptions.RequestException:
                    pass   # a cut transfer: reported below from the byte count
                f.flush()
                os.fsync(f.fileno())
            if total is not None and received != total:
                raise WeightsCorrupt(f'{path}: download of {url} cut off after {received} of '
                                     f'{total} bytes; nothing was kept, try again')
            check_content(tmp, path)
            digest = _sha256(tmp)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
    _record_sha256(folder, name, digest)
    return path


def fetch(url: str, folder: Optional[str] = None, filename: Optional[str] = None,
          expected_sha256: Optional[str] = None, progress: bool = True) -> str:
    """The local path of ``url``'s file in ``folder``, downloaded first if missing.

    Args:
        url (str): Download address.
        folder (str, optional): Cache folder. Default: ppgan's (:func:`ppgan_home`).
        filename (str, optional): File name. Default: the URL's last part
            (as ppgan names it).
        expected_sha256 (str, optional): Known digest, checked when no record
            exists yet.
        progress (bool): Progress bar. Default: True.

    Returns:
        str: Path of the checked file.
    """
    path = os.path.join(folder or ppgan_home(), filename or url.rsplit('/', 1)[-1])
    if not os.path.isfile(path):
        download(url, path, progress)
        return path
    verify(path, expected_sha256)
    return path


def weights_path(weights) -> str:
    """Where a :class:`~ppgan_ext.zoo.registry.UrlWeights` file is (or will be) on disk."""
    return os.path.join(ppgan_home(), weights.file)


def fetch_weights(weights, progress: bool = True) -> str:
    """Fetch a :class:`~ppgan_ext.zoo.registry.UrlWeights` into ppgan's cache; its path."""
    return fetch(weights.url, ppgan_home(), weights.file, getattr(weights, 'sha256', None),
                 progress)
