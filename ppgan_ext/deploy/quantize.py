"""Post-training int8 quantization of an exported folder, kept only when it holds quality.

NNCF (OpenVINO's quantizer) quantizes the folder's ONNX graph: it runs the
fp32 graph on a few calibration inputs, records the activation ranges and
writes a QDQ graph (``QuantizeLinear``/``DequantizeLinear`` around convolutions
and transposed convolutions, per-channel int8 weights) that OpenVINO compiles
to int8 kernels (AMX-INT8 / AVX-512 VNNI where the CPU has them,
:func:`ppgan_ext.deploy.cpu.int8_flags`).

Calibration inputs (:func:`calibration_inputs`), never the held-out photos:

* ``sr``: scikit-image's training photos (:data:`ppgan_ext.sample_data.TRAIN_PHOTOS`),
  centre-cropped and area-downscaled by the model's scale, or the images of
  a folder given by the user (used as model inputs as they are: give
  degraded inputs for a restoration model);
* ``stylize``: training photos as content, two textures as styles, at the
  pyramid's working size (512 for two revision levels).

Parity discipline (:func:`quantize_model_dir`): the int8 graph runs next to
the fp32 graph (both with OpenVINO) on held-out inputs and is refused with
one line, nothing written, when

* ``sr``: its mean PSNR against the ground truth of the held-out photos
  (:data:`ppgan_ext.sample_data.TEST_PHOTOS`, or ``heldout``/``heldout_gt``
  folders) is more than ``margin`` dB (default 0.1) below fp32's;
* ``stylize``: any held-out output is less than ``min_psnr`` dB (default 35)
  from the fp32 output.

An accepted graph is written beside the fp32 one as ``NAME.int8.onnx``, and
the sidecar gets an ``int8`` record (file, quantizer, calibration, the PSNR
figures); ``--precision int8`` runs it. Re-exporting the folder removes both.
"""
import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..degradations import crop_gt_to_output
from ..tiling import to_uint8_hwc
from .metrics import psnr
from .model_dir import ModelInfo, read_model_dir
from .sidecar import write_sidecar

INT8_SUFFIX = '.int8.onnx'
SR_MARGIN_DB = 0.1
STYLIZE_MIN_PSNR_DB = 35.0
CALIBRATION_STYLES = ('brick', 'grass')
HELDOUT_STYLE = 'gravel'

__all__ = ['INT8_SUFFIX', 'SR_MARGIN_DB', 'STYLIZE_MIN_PSNR_DB', 'QuantizationRefused',
           'QuantizeReport', 'calibration_inputs', 'heldout_sr_pairs', 'quantize_model_dir',
           'int8_file_name', 'nncf_quantize']


class QuantizationRefused(ValueError):
    """The int8 graph lost more quality than the margin allows (nothing was written)."""


@dataclass
class QuantizeReport:
    """What :func:`quantize_model_dir` did.

    Attributes:
        int8_file (str): The graph written (``NAME.int8.onnx``).
        rows (list[dict]): Per held-out image: ``sr``: ``{image, psnr_fp32,
            psnr_int8}`` (dB against the ground truth); ``stylize``:
            ``{image, int8_vs_fp32}`` (dB).
        record (dict): The sidecar's ``int8`` record.
    """
    int8_file: str = ''
    rows: List[dict] = field(default_factory=list)
    record: dict = field(default_factory=dict)


def int8_file_name(info: ModelInfo) -> str:
    """``NAME.int8.onnx`` for the folder's ``NAME.onnx``."""
    return os.path.splitext(os.path.basename(info.onnx_file))[0] + INT8_SUFFIX


def _centre_square(img: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    interp = cv2.INTER_AREA if side < s else cv2.INTER_LINEAR
    return cv2.resize(img, (side, side), interpolation=interp)


def _batch(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [0, 1]."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def _rgb_photo(name: str) -> np.ndarray:
    from ..sample_data import sample_image

    return sample_image(name)


def _folder_images(folder: str, key: str) -> Dict[str, np.ndarray]:
    from ..image_io import read_image
    from ..utils import IMG_EXTENSIONS, scan_images

    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{key}: no such folder: {folder}")
    paths = scan_images(folder, extensions=IMG_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(f"{key} {folder}: no images in or below it")
    return {os.path.relpath(p, folder): read_image(p) for p in paths}


def _check_sr(info: ModelInfo) -> int:
    if info.kind == 'sr' and (len(info.inputs) != 1 or info.in_channels != 3
                              or info.channel_order != 'RGB'):
        raise ValueError(f"--model-dir {info.model_dir}: int8 calibration feeds RGB photos to a "
                         f"single-input model; this one takes {len(info.inputs)} input(s) of "
                         f"{info.in_channels} {info.channel_order} channels")
    return int(info.scale or 1)


def calibration_inputs(info: ModelInfo, folder: Optional[str] = None, count: int = 6,
                       size: int = 384) -> List[List[np.ndarray]]:
    """Calibration feeds for the folder's graph: a list of input lists (float32 NCHW).

    Args:
        info (ModelInfo): The exported folder.
        folder (str, optional): ``sr`` only: images fed to the model as they
            are (e.g. degraded training inputs). Default: training photos,
            centre ``size`` squares area-downscaled by the scale.
        count (int): Training photos to use (default folder). Default: 6.
        size (int): ``sr``: side of the photo squares before downscaling;
            ``stylize``: ignored (the pyramid's working size). Default: 384.
    """
    from ..sample_data import TRAIN_PHOTOS

    if info.kind == 'stylize':
        from ..pyramid_sizes import top_level_size

        side = top_level_size(int(info.sidecar.get('levels', 2)))
        styles = [_batch(_centre_square(_rgb_photo(n), side)) for n in CALIBRATION_STYLES]
        return [[_batch(_centre_square(_rgb_photo(n), side)), styles[i % len(styles)]]
                for i, n in enumerate(TRAIN_PHOTOS[:count])]
    if info.kind != 'sr':
        raise ValueError(f"--model-dir {info.model_dir}: int8 quantization knows 'sr' and "
                         f"'stylize' models, not {info.kind!r}")
    scale = _check_sr(info)
    if folder is not None:
        return [[_batch(img)] for img in _folder_images(folder, '--calibration').values()]
    crops = [_centre_square(_rgb_photo(n), size - size % scale) for n in TRAIN_PHOTOS[:count]]
    return [[_batch(_downscale(c, scale) if scale > 1 else c)] for c in crops]


def _downscale(img: np.ndarray, scale: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    return cv2.resize(img, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def heldout_sr_pairs(scale: int, size: int = 256) -> Dict[str, tuple]:
    """``{name: (input RGB uint8, ground truth RGB uint8)}`` of the held-out photos.

    :data:`ppgan_ext.sample_data.TEST_PHOTOS`, centre ``size`` squares (cut to a
    multiple of ``scale``), inputs area-downscaled by ``scale``.
    """
    from ..sample_data import TEST_PHOTOS

    side = size - size % scale
    pairs = {}
    for name in TEST_PHOTOS:
        gt = _centre_square(_rgb_photo(name), side)
        pairs[f'{name}.png'] = (_downscale(gt, scale) if scale > 1 else gt, gt)
    return pairs


def nncf_quantize(onnx_file: str, names: Sequence[str], feeds: List[List[np.ndarray]],
                  target: str) -> str:
    """Quantize ``onnx_file`` with NNCF on ``feeds``; write ``target``; return a quantizer label.

    NNCF's performance preset (symmetric int8 activations): its mixed preset
    (asymmetric activations) made the LapStyle pyramid slower than bf16
    (0.64x) in ``bench/int8.py``.
    """
    import logging

    import onnx

    try:
        import nncf
    except ImportError:
        raise ValueError("int8 quantization needs NNCF: pip install nncf==3.4.0") from None
    logging.getLogger('nncf').setLevel(logging.ERROR)
    try:   # NNCF collects statistics with ONNX Runtime: keep its graph-cleaning notes out
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except ImportError:
        pass
    dataset = nncf.Dataset(feeds, lambda arrays: dict(zip(names, arrays)))
    preset = nncf.QuantizationPreset.PERFORMANCE
    quantized = nncf.quantize(onnx.load(onnx_file), dataset, subset_size=len(feeds),
                              preset=preset)
    onnx.save(quantized, target)
    return (f'nncf {nncf.__version__} post-training, {preset.value} preset (QDQ, per-channel '
            f'int8 weights)')


def quantize_model_dir(model_dir: str, calibration: Optional[str] = None,
                       heldout: Optional[str] = None, heldout_gt: Optional[str] = None,
                       margin: float = SR_MARGIN_DB, min_psnr: float = STYLIZE_MIN_PSNR_DB,
                       threads: Optional[int] = None,
                       progress=None) -> QuantizeReport:
    """Quantize the folder's ONNX graph to int8, check it, and keep it beside the fp32 graph.

    Args:
        model_dir (str): Folder written by ``paddlegan export`` (with ONNX).
        calibration (str, optional): ``sr``: folder of calibration inputs
            (see :func:`calibration_inputs`). Default: training photos.
        heldout (str, optional): ``sr``: folder of held-out inputs, with
            ``heldout_gt`` (same relative names). Default:
            :func:`heldout_sr_pairs`.
        heldout_gt (str, optional): Ground truth of ``heldout``.
        margin (float): ``sr``: largest allowed mean PSNR loss against fp32
            (dB). Default: 0.1.
        min_psnr (float): ``stylize``: smallest allowed PSNR of int8 output
            from fp32 output (dB). Default: 35.
        threads (int, optional): CPU threads. Default: all cores.
        progress (callable, optional): Called with one status line per step.

    Returns:
        QuantizeReport

    Raises:
        QuantizationRefused: the quality check failed (one line, nothing written).
        ValueError / FileNotFoundError: no ONNX graph, a kind other than
            ``sr``/``stylize``, bad folders.
    """
    from .backends.openvino import OpenVINOPredictor

    say = progress or (lambda line: None)
    info = read_model_dir(model_dir)
    if info.onnx_file is None:
        raise ValueError(f"--model-dir {model_dir}: no ONNX graph to quantize (formats: "
                         f"{', '.join(info.formats)}); re-export with --format paddle,onnx")
    if (heldout is None) != (heldout_gt is None):
        raise ValueError("--heldout and --heldout-gt go together (inputs and their ground truth)")
    if info.kind == 'stylize' and (calibration or heldout):
        raise ValueError("--calibration/--heldout are for SR models; a LapStyle pyramid is "
                         "calibrated and checked on the bundled photos and textures")
    feeds = calibration_inputs(info, calibration)
    names = [i['name'] for i in info.inputs]
    say(f'calibrating on {len(feeds)} input(s)'
        + (f' from {calibration}' if calibration else ' (training photos)'))
    target_name = int8_file_name(info)
    tmp = tempfile.NamedTemporaryFile(prefix='.int8-', suffix='.onnx', dir=model_dir,
                                      delete=False)
    tmp.close()
    try:
        quantizer = nncf_quantize(info.onnx_file, names, feeds, tmp.name)
        fp32 = OpenVINOPredictor(info, 'fp32', threads)
        int8 = OpenVINOPredictor(info, 'int8', threads, graph_file=tmp.name)
        report = QuantizeReport()
        if info.kind == 'stylize':
            _check_stylize(info, fp32, int8, min_psnr, report)
            summary = {'min_int8_vs_fp32_db': round(min(r['int8_vs_fp32'] for r in report.rows),
                                                    3), 'min_allowed_db': min_psnr}
        else:
            _check_sr(info)
            _check_sr_quality(info, fp32, int8, heldout, heldout_gt, margin, report)
            mean32 = float(np.mean([r['psnr_fp32'] for r in report.rows]))
            mean8 = float(np.mean([r['psnr_int8'] for r in report.rows]))
            summary = {'psnr_fp32_db': round(mean32, 4), 'psnr_int8_db': round(mean8, 4),
                       'loss_db': round(mean32 - mean8, 4), 'margin_db': margin}
        del fp32, int8
        target = os.path.join(model_dir, target_name)
        os.replace(tmp.name, target)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    report.int8_file = target
    report.record = {'onnx_file': target_name, 'quantizer': quantizer,
                     'calibration': calibration or 'training photos (skimage)',
                     'heldout': heldout or 'held-out photos (skimage)', **summary}
    write_sidecar(model_dir, dataclasses.replace(info.sidecar, int8=report.record))
    return report


def _check_sr_quality(info, fp32, int8, heldout, heldout_gt, margin, report) -> None:
    scale = int(info.scale or 1)
    if heldout is not None:
        inputs = _folder_images(heldout, '--heldout')
        truths = _folder_images(heldout_gt, '--heldout-gt')
        missing = sorted(set(inputs) - set(truths))
        if missing:
            raise FileNotFoundError(f"--heldout-gt {heldout_gt}: no ground truth for "
                                    f"{missing[0]}" + (f" and {len(missing) - 1} more"
                                                       if len(missing) > 1 else ''))
        pairs = {name: (inputs[name], truths[name]) for name in inputs}
    else:
        pairs = heldout_sr_pairs(scale)
    for name, (lq, gt) in sorted(pairs.items()):
        x = _batch(lq)
        a, b = to_uint8_hwc(fp32(x)[0]), to_uint8_hwc(int8(x)[0])
        gt = crop_gt_to_output(gt, a.shape, scale)   # as `paddlegan degrade --scale` cropped it
        if a.shape != gt.shape:
            raise ValueError(f"--heldout-gt: {name} is {gt.shape[1]}x{gt.shape[0]}, the model "
                             f"makes {a.shape[1]}x{a.shape[0]} from its input")
        report.rows.append({'image': name, 'psnr_fp32': psnr(a, gt, scale),
                            'psnr_int8': psnr(b, gt, scale)})
    mean32 = float(np.mean([r['psnr_fp32'] for r in report.rows]))
    mean8 = float(np.mean([r['psnr_int8'] for r in report.rows]))
    if mean32 - mean8 > margin:
        raise QuantizationRefused(
            f"int8 refused: it loses {mean32 - mean8:.3f} dB PSNR on {len(report.rows)} held-out "
            f"image(s) ({mean32:.3f} -> {mean8:.3f} dB; margin {margin} dB); nothing written "
            f"to {info.model_dir}")


def _check_stylize(info, fp32, int8, min_psnr, report) -> None:
    from ..pyramid_sizes import top_level_size
    from ..sample_data import TEST_PHOTOS

    side = top_level_size(int(info.sidecar.get('levels', 2)))
    style = _batch(_centre_square(_rgb_photo(HELDOUT_STYLE), side))
    for name in TEST_PHOTOS:
        content = _batch(_centre_square(_rgb_photo(name), side))
        a, b = to_uint8_hwc(fp32(content, style)[0]), to_uint8_hwc(int8(content, style)[0])
        report.rows.append({'image': f'{name}.png', 'int8_vs_fp32': psnr(a, b)})
    worst = min(report.rows, key=lambda r: r['int8_vs_fp32'])
    if worst['int8_vs_fp32'] < min_psnr:
        raise QuantizationRefused(
            f"int8 refused: {worst['image']} stylized in int8 is {worst['int8_vs_fp32']:.2f} dB "
            f"from fp32 (at least {min_psnr} dB required); nothing written to "
            f"{info.model_dir}")
