"""Where the backends keep what they derive from a model folder's graph (compiled or rewritten).

OpenVINO keeps compiled blobs (:mod:`ppgan_ext.deploy.backends.openvino`),
ONNX Runtime a rewritten graph (:mod:`ppgan_ext.deploy.backends.onnxruntime`).
Both live in a folder named per backend inside the model folder, or, when
the model folder is not writable, under ``~/.cache/ppgan_ext/<backend>/<hash of
the folder's path>/``; an environment variable names another folder or turns
the cache off. Inside, one subfolder per version of the graph file (size,
modification time, inode): ``paddlegan export`` replaces files by rename, so a
re-export always gets a new subfolder, and the subfolders of versions no
longer in the model folder are removed.
"""
import hashlib
import os
import shutil
from typing import Iterable, Optional

__all__ = ['graph_version', 'versioned_cache', 'cache_root']

_OFF = ('', '0', 'off', 'none')


def graph_version(path: str) -> str:
    """A short key that changes whenever ``path`` is rewritten or replaced."""
    st = os.stat(path)
    return hashlib.sha1(f'{st.st_size}-{st.st_mtime_ns}-{st.st_ino}'.encode()).hexdigest()[:16]


def versioned_cache(base: str, graph: str, keep: Iterable[str]) -> str:
    """``base/<version of graph>``; other versions' subfolders not in ``keep`` are removed."""
    version = graph_version(graph)
    keep = set(keep)
    if os.path.isdir(base):
        for name in os.listdir(base):
            if name not in keep and name != version and len(name) == 16:
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return os.path.join(base, version)


def cache_root(model_dir: str, folder_name: str, env_name: str, home_name: str) -> Optional[str]:
    """The cache folder of a model folder for one backend (None: caching off).

    Args:
        model_dir (str): The exported model folder.
        folder_name (str): Cache folder inside ``model_dir`` (e.g. ``'openvino_cache'``).
        env_name (str): Environment variable that overrides the place; ``off``,
            ``0``, ``none`` or empty turns the cache off.
        home_name (str): Subfolder of ``~/.cache/ppgan_ext`` used when
            ``model_dir`` is not writable.
    """
    env = os.environ.get(env_name)
    if env is not None:
        return None if env.strip().lower() in _OFF else env
    if os.access(model_dir, os.W_OK):
        return os.path.join(model_dir, folder_name)
    key = hashlib.sha1(os.path.realpath(model_dir).encode('utf-8')).hexdigest()[:16]
    return os.path.join(os.path.expanduser('~'), '.cache', 'ppgan_ext', home_name, key)
