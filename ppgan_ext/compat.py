"""Every shim that ppgan 2.1.0 needs on Paddle 3.x and NumPy 2, in one place.

ppgan 2.1.0 was written against Paddle 2.x and NumPy 1.x.  On Paddle 3 the
``paddle.fluid`` namespace is gone, and ``ppgan.models`` imports
``paddle.fluid.layers.nn.soft_relu`` at module level (StarGAN v2), so the whole
model zoo fails to import.  :func:`apply` installs a minimal stand-in for that
import before ppgan is loaded.  On Paddle 2.6, where ``paddle.fluid`` still
exists, it changes nothing.

:func:`patch_ppgan` (applied by the training entry points, not on import)
fixes what breaks later, one small function per breakage:

* ``-p`` profiling: ppgan calls ``paddle.utils.profiler`` (gone) ->
  :func:`patch_profiler` maps it onto ``paddle.profiler``;
* StarGAN v2 picks domains with ``np.int`` (gone in NumPy 2) on 0-D tensors
  -> :func:`patch_starganv2_domain_select`;
* first-order motion calls ``paddle.fluid.layers.resize_nearest`` and
  ``.matmul`` -> :func:`patch_fluid_layers`;
* LapStyle's ``CalcStyleEmdLoss`` concatenates 0-D tensors (an axis error on
  Paddle 3) -> :func:`patch_style_emd_loss`;
* CycleGAN's ``test_iter`` feeds the metrics nothing, so FID fails with
  "need at least one array to concatenate" -> :func:`patch_cyclegan_metrics`;
* weights ppgan downloads at run time go through a bare ``requests`` loop
  (no check of what arrived; offline, a network traceback) ->
  :func:`patch_weight_downloads` (ppgan-ext's checked, atomic downloader;
  offline, one line naming the file, its URL and where to put it);
* configs of PaddleGAN releases newer than 2.1.0 carry keys 2.1.0 does not
  take (``model.to_static``) -> :func:`drop_newer_config_keys`.

No other module of ppgan_ext looks at Paddle, NumPy or ppgan versions.
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


# ------------------------------------------------------ run-time ppgan patches
# Config keys of PaddleGAN releases newer than ppgan 2.1.0 that 2.1.0's classes
# do not take: dotted key -> what it did upstream.
NEWER_CONFIG_KEYS = {
    'model.to_static': 'trains under paddle.jit.to_static in PaddleGAN > 2.1.0',
}


def __getattr__(name):
    """``WeightsUnavailable`` / ``WeightsCorrupt`` live in :mod:`ppgan_ext.zoo.download`.

    Resolved on first use, so that this file also loads on its own (before
    ``ppgan_ext`` is imported, as the registry-collision check does).
    """
    if name in ('WeightsUnavailable', 'WeightsCorrupt'):
        from .zoo import download

        return getattr(download, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def drop_newer_config_keys(cfg: dict) -> list:
    """Remove :data:`NEWER_CONFIG_KEYS` from ``cfg`` (in place); return the dotted keys removed."""
    removed = []
    for dotted in NEWER_CONFIG_KEYS:
        *parents, last = dotted.split('.')
        node = cfg
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and last in node:
            del node[last]
            removed.append(dotted)
    return removed


def _mark(func):
    func._ppgan_ext = True
    return func


def _patched(obj, attr: str) -> bool:
    return getattr(getattr(obj, attr, None), '_ppgan_ext', False)


def patch_profiler() -> None:
    """``-p`` on Paddle 3: ppgan's ``add_profiler_step`` calls ``paddle.utils.profiler``.

    The stand-in starts a ``paddle.profiler.Profiler`` on ``start_profiler``
    and, on ``stop_profiler``, prints its summary sorted as asked and writes a
    Chrome trace to ``profile_path`` (ppgan's option of that name).
    """
    import paddle.utils

    if getattr(paddle.utils, 'profiler', None) is not None:
        return
    import paddle.profiler as profiler

    state = {}

    def start_profiler(state_name='All', tracer_option='Default'):
        targets = [profiler.ProfilerTarget.CPU]
        if state_name in ('GPU', 'All') and paddle.is_compiled_with_cuda():
            targets.append(profiler.ProfilerTarget.GPU)
        prof = profiler.Profiler(targets=targets, on_trace_ready=lambda p: None)
        prof.start()
        state['prof'] = prof

    def stop_profiler(sorted_key='total', profile_path='/tmp/profile'):
        prof = state.pop('prof', None)
        if prof is None:
            return
        prof.stop()
        keys = {'calls': 'Calls', 'total': 'CPUTotal', 'max': 'CPUMax', 'min': 'CPUMin',
                'ave': 'CPUAvg'}
        prof.summary(sorted_by=getattr(profiler.SortedKeys, keys.get(sorted_key, 'CPUTotal')))
        prof.export(path=profile_path, format='json')

    module = types.ModuleType('paddle.utils.profiler')
    module.start_profiler, module.stop_profiler = start_profiler, stop_profiler
    paddle.utils.profiler = module
    sys.modules.setdefault('paddle.utils.profiler', module)


def _pick_domain(out, y):
    """Row ``y[i]`` of ``out[i]`` for each sample: (N, D, S), (N,) -> (N, S)."""
    return paddle.stack([out[i, int(y[i].item())] for i in range(out.shape[0])])


def patch_starganv2_domain_select() -> None:
    """StarGAN v2's mapping and style nets pick each sample's domain with ``np.int``
    (gone in NumPy 2) and ``tensor.numpy().tolist()[0]`` (a 0-D tensor on Paddle 3)."""
    from ppgan.models.generators import generator_starganv2 as module

    if _patched(module.StarGANv2Mapping, 'forward'):
        return

    @_mark
    def mapping_forward(self, z, y):
        h = self.shared(z)
        return _pick_domain(paddle.stack([layer(h) for layer in self.unshared], axis=1), y)

    @_mark
    def style_forward(self, x, y):
        h = self.shared(x)
        h = paddle.reshape(h, (h.shape[0], -1))
        return _pick_domain(paddle.stack([layer(h) for layer in self.unshared], axis=1), y)

    module.StarGANv2Mapping.forward = mapping_forward
    module.StarGANv2Style.forward = style_forward


def _resize_nearest(input, out_shape=None, scale=None, name=None, **kwargs):
    import paddle.nn.functional as F
    if out_shape is not None:
        return F.interpolate(input, size=list(out_shape), mode='nearest')
    return F.interpolate(input, scale_factor=scale, mode='nearest')


def _fluid_matmul(x, y, transpose_x=False, transpose_y=False, alpha=1.0, name=None):
    out = paddle.matmul(x, y, transpose_x=transpose_x, transpose_y=transpose_y)
    return out if alpha == 1.0 else out * alpha


def patch_fluid_layers() -> None:
    """First-order motion calls ``paddle.fluid.layers.resize_nearest`` / ``.matmul``."""
    fluid = sys.modules.get('paddle.fluid')
    if fluid is None or getattr(fluid, '__file__', None):   # the real fluid (Paddle 2)
        return
    fluid.layers.resize_nearest = _resize_nearest
    fluid.layers.matmul = _fluid_matmul
    if not hasattr(paddle, 'fluid'):
        paddle.fluid = fluid


def patch_style_emd_loss() -> None:
    """``CalcStyleEmdLoss`` concatenates two 0-D means (an axis error on Paddle 3)."""
    from ppgan.models.criterions import pixel_loss

    cls = pixel_loss.CalcStyleEmdLoss
    if _patched(cls, '__call__'):
        return

    @_mark
    def __call__(self, pred, target):
        cx_m = pixel_loss.calc_emd_loss(pred, target)
        return paddle.maximum(cx_m.min(2).mean(), cx_m.min(1).mean())

    cls.__call__ = __call__


def patch_cyclegan_metrics() -> None:
    """CycleGAN's ``test_iter`` feeds its metrics nothing: give them (fake_B, real_B)."""
    from ppgan.models.cycle_gan_model import CycleGANModel

    if _patched(CycleGANModel, 'test_iter'):
        return

    @_mark
    def test_iter(self, metrics=None):
        self.nets['netG_A'].eval()
        with paddle.no_grad():
            self.forward()
            for metric in (metrics or {}).values():
                metric.update(self.fake_B, self.real_B)
        self.nets['netG_A'].train()

    CycleGANModel.test_iter = test_iter


def patch_weight_downloads() -> None:
    """ppgan's run-time weight downloads go through :mod:`ppgan_ext.zoo.download`.

    ppgan fetches weights (VGG, InceptionV3, ...) from inside constructors
    through ``ppgan.utils.download.get_path_from_url`` and Paddle's
    ``get_weights_path_from_url``; both look in their cache first
    (``~/.cache/ppgan``, ``~/.cache/paddle/hapi/weights``) and call their
    module's ``_download`` only for a missing (or md5-failing) file, at the
    moment PaddleGAN itself would download it. That ``_download`` becomes
    :func:`ppgan_ext.zoo.download.download`: same folder and file name, but
    atomic, checked (length, content, sha256 recorded) and with a progress
    bar; offline (no connection, or ``PPGAN_EXT_OFFLINE=1``) it raises
    :class:`WeightsUnavailable`, one line naming the file, its URL and where to
    put it. An md5 that ppgan or Paddle pass is checked after the transfer.
    """
    import hashlib
    import os

    import paddle.utils.download as paddle_download
    from ppgan.utils import download as ppgan_download

    from .zoo import download as zoo_download
    from .zoo.download import WeightsCorrupt

    for module in (ppgan_download, paddle_download):
        if _patched(module, '_download'):
            continue

        def _download(url, path, md5sum=None, *args, **kwargs):
            target = os.path.join(path, os.path.basename(url))
            if os.path.exists(target):   # there but failing ppgan's md5: fetch it again
                os.remove(target)
            zoo_download.download(url, target)
            if md5sum:
                with open(target, 'rb') as f:
                    got = hashlib.md5(f.read()).hexdigest()
                if got != md5sum:
                    os.remove(target)
                    raise WeightsCorrupt(f'{target}: md5 {got} differs from {md5sum}, the one '
                                         f'ppgan expects for {url}')
            return target

        module._download = _mark(_download)


def patch_ppgan() -> None:
    """Apply every run-time patch above. Idempotent."""
    apply()
    patch_profiler()
    patch_starganv2_domain_select()
    patch_fluid_layers()
    patch_style_emd_loss()
    patch_cyclegan_metrics()
    patch_weight_downloads()
