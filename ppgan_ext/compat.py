"""Every shim that ppgan 2.1.0 needs on Paddle 3.x, in one place.

ppgan 2.1.0 was written against Paddle 2.x.  On Paddle 3 the ``paddle.fluid``
namespace is gone, and ``ppgan.models`` imports
``paddle.fluid.layers.nn.soft_relu`` at module level (StarGAN v2), so the whole
model zoo fails to import.  :func:`apply` installs a minimal stand-in for that
import before ppgan is loaded.  On Paddle 2.6, where ``paddle.fluid`` still
exists, it changes nothing.

No other module of ppgan_ext looks at Paddle or ppgan versions.
"""
import importlib.util
import sys
import types
import warnings

# Paddle warns about a missing compiler cache on every import (it only matters
# for building custom C++ operators), and ppgan's models call paddle.to_tensor on
# tensors every iteration; neither is actionable for a user.
warnings.filterwarnings('ignore', message='No ccache found')
warnings.filterwarnings('ignore', message='To copy construct from a tensor')

import paddle  # noqa: E402

_APPLIED = False

PPGAN_INSTALL_HINT = (
    "ppgan is not installed. Install it with: "
    "pip install --no-deps ppgan==2.1.0 "
    "(or run `make install`, which also installs its runtime needs)")


def _soft_relu(x, threshold=40.0, name=None):
    """``log(1 + exp(clip(x, -threshold, threshold)))``, as Paddle 2's fluid op."""
    return paddle.log1p(paddle.exp(paddle.clip(x, -threshold, threshold)))


def _install_fluid_stand_in() -> None:
    try:
        has_fluid = importlib.util.find_spec('paddle.fluid') is not None
    except (ImportError, ValueError):
        has_fluid = False
    if has_fluid:
        return
    names = ('paddle.fluid', 'paddle.fluid.layers', 'paddle.fluid.layers.nn')
    modules = [types.ModuleType(n) for n in names]
    for parent, child, attr in ((modules[0], modules[1], 'layers'),
                                (modules[1], modules[2], 'nn')):
        setattr(parent, attr, child)
    modules[2].soft_relu = _soft_relu
    for name, module in zip(names, modules):
        sys.modules.setdefault(name, module)


def apply() -> None:
    """Make ``import ppgan.*`` work on the installed Paddle. Idempotent."""
    global _APPLIED
    if _APPLIED:
        return
    if importlib.util.find_spec('ppgan') is None:
        raise ImportError(PPGAN_INSTALL_HINT)
    _install_fluid_stand_in()
    _APPLIED = True


def harden_ppgan_image_io() -> None:
    """Make ppgan's stock image datasets fail in one line on bad folders and files. Idempotent.

    Applied by the training entry points (``tools/main.py``, ``paddlegan
    train|eval``), not on import. ppgan 2.1.0's ``BaseDataset.scan_folder``
    (SRDataset, PairedDataset, SingleDataset, UnpairedDataset) recurses into
    every entry that is not a regular file, so a hidden file (``.DS_Store``)
    or a dangling link raises ``NotADirectoryError``/``FileNotFoundError``, a
    folder symlink loop is followed ~40 levels deep until ``OSError: Too
    many levels of symbolic links``, and an empty folder is an
    ``AssertionError``; a broken image is found only when a DataLoader
    worker reads it, where ppgan's ``Compose`` turns the error into a bare
    ``RuntimeError`` (and Paddle's loader thread into a second traceback).

    The replacement follows folder links once, leaves hidden entries out,
    returns sorted paths (the same path strings ppgan builds), raises
    ``FileNotFoundError`` naming an empty or missing folder, and checks every
    image file up front (:func:`ppgan_ext.image_io.check_image_file`: pixel
    limit, truncation, symlink loops; each file is read once), raising one
    ``ValueError`` that lists the bad ones.
    """
    from ppgan.datasets import base_dataset

    if getattr(base_dataset.BaseDataset.scan_folder, '_ppgan_ext', False):
        return

    def scan_folder(path):
        import os
        from pathlib import Path

        from .image_io import bad_files_listing, find_bad_images
        from .utils import scan_images

        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f'{path}: no such folder')
        walked = str(Path(path))   # scan_images' spelling of the folder
        found = [os.path.join(path, os.path.relpath(p, walked)) for p in scan_images(
            path, extensions=base_dataset.IMG_EXTENSIONS, case_sensitive=True)]
        if not found:
            raise FileNotFoundError(f"{path}: no image files "
                                    f"({', '.join(base_dataset.IMG_EXTENSIONS)}) in or below it")
        _, bad = find_bad_images(found)
        if bad:
            listing = bad_files_listing(bad, path)
            raise ValueError(f'{len(bad)} of {len(found)} image files under {path} cannot be '
                             f'used: {listing}. Fix or remove them')
        return found

    scan_folder._ppgan_ext = True
    base_dataset.BaseDataset.scan_folder = staticmethod(scan_folder)
