"""The folder job of ``paddlegan infer``: an image or a folder through an exported model.

Outputs keep the inputs' relative paths as PNGs, written atomically; an
existing output is kept (and still scored) unless ``overwrite``; a folder run
skips unreadable inputs and names them; with ground truth every output gets
PSNR/SSIM (:mod:`ppgan_ext.deploy.metrics`). Large images go through
:func:`ppgan_ext.tiling.tiled_apply`. The predictor comes from
:func:`ppgan_ext.deploy.backends.create_predictor`, so every backend runs the
same job.
"""
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..degradations import crop_gt_to_output
from ..image_io import read_input, read_uint8_rgb, write_png
from ..self_ensemble import self_ensemble
from ..tiling import DEFAULT_OVERLAP, tiled_apply, to_uint8_hwc
from ..utils import IMG_EXTENSIONS, missing_path_message, plan_png_outputs, remove_stale_temp_files
from ..deploy.backends import create_predictor
from ..deploy.metrics import image_metrics
from ..deploy.model_dir import read_model_dir

__all__ = ['InferResult', 'plan_outputs', 'find_gt', 'infer', 'summarize']


@dataclass
class InferResult:
    """What :func:`infer` did: written / reused outputs, metric rows, skipped files."""
    outputs: List[str] = field(default_factory=list)
    reused: List[str] = field(default_factory=list)
    rows: List[dict] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    deleted_passes: List[str] = field(default_factory=list)
    scale: int = 1
    backend: str = ''
    precision: str = 'fp32'


def plan_outputs(source: str, output: str) -> List[Tuple[str, str, str]]:
    """(input image, output PNG, relative name) for an image or a folder (recursive).

    See :func:`ppgan_ext.utils.plan_png_outputs` for naming and the errors raised.
    """
    return [(src, dst, os.path.relpath(dst, output))
            for src, dst in plan_png_outputs(source, output, '--input')]


def find_gt(gt: str, source: str, input_root: str) -> Optional[str]:
    """The ground-truth file for ``source``: same relative stem under ``gt``, any extension."""
    if os.path.isfile(gt):
        return gt
    rel = os.path.relpath(source, input_root) if os.path.isdir(input_root) \
        else os.path.basename(source)
    stem = os.path.splitext(os.path.join(gt, rel))[0]
    for ext in (os.path.splitext(source)[1],) + IMG_EXTENSIONS:
        for candidate in (stem + ext, stem + ext.upper()):
            if os.path.isfile(candidate):
                return candidate
    return None


def infer(model_dir: str, source: str, output: str, gt: Optional[str] = None, tile: int = 0,
          overlap: int = DEFAULT_OVERLAP, device: str = 'cpu', overwrite: bool = False,
          threads: Optional[int] = None, crop_border: Optional[int] = None,
          y_channel: bool = False, onednn: bool = True, backend: Optional[str] = None,
          precision: str = 'fp32', tta: bool = False,
          progress: Optional[Callable[[Iterable], Iterable]] = None) -> InferResult:
    """Super-resolve an image or a folder with an exported model; score against GT if given.

    Args:
        model_dir (str): Exported model folder.
        source (str): Image file or folder (searched recursively).
        output (str): Output folder; PNGs keep the inputs' relative paths.
        gt (str, optional): Ground-truth folder (same relative names, any
            image extension) or file. Default: None.
        tile (int): Tile side in input pixels; 0 = whole image. Default: 0.
        overlap (int): Tile overlap in input pixels. Default: 16.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        overwrite (bool): Recompute outputs that already exist. Default: False
            (existing PNGs are kept and still scored).
        threads (int, optional): CPU threads. Default: all cores.
        crop_border (int, optional): Border excluded from PSNR/SSIM.
            Default: the model's scale.
        y_channel (bool): Score the Y channel of YCbCr. Default: False.
        onednn (bool): oneDNN on CPU (Paddle backend). Default: True.
        backend (str, optional): ``paddle``, ``onnxruntime``, ``openvino``;
            None or ``'auto'``: the fastest installed for the folder
            (:func:`ppgan_ext.deploy.backends.choose_backend`). Default: None.
        precision (str): ``'fp32'`` or ``'bf16'`` (OpenVINO on a CPU with
            native bf16). Default: 'fp32'.
        tta (bool): Test-time self-ensemble: each image (or tile) runs in its
            8 flips / rotations and the outputs are averaged
            (:mod:`ppgan_ext.self_ensemble`; 8x the time). Default: False.
        progress (callable, optional): Wraps the work list (e.g. ``tqdm``).

    Returns:
        InferResult
    """
    if tile < 0:
        raise ValueError(f"--tile must be >= 0, got {tile}")
    if tile and not 0 <= overlap < tile:
        raise ValueError(f"--tile-overlap must be in [0, --tile) = [0, {tile}), got {overlap}")
    if gt is not None and not os.path.exists(gt):
        raise FileNotFoundError(missing_path_message(gt, '--gt'))
    info = read_model_dir(model_dir)
    if info.kind != 'sr':
        hint = " (run it with `paddlegan stylize --model-dir`)" if info.kind == 'stylize' else ''
        raise ValueError(f"--model-dir {model_dir}: a {info.kind!r} model; `paddlegan infer` "
                         f"runs image-to-image ('sr') models{hint}")
    if len(info.inputs) != 1:
        raise ValueError(f"--model-dir {model_dir}: {len(info.inputs)} inputs; `paddlegan "
                         f"infer` runs single-input models")
    plan = plan_outputs(source, output)
    remove_stale_temp_files(output)   # partial files of a killed run
    options = {} if onednn else {'onednn': False}
    if not onednn and backend in (None, 'auto'):
        backend = 'paddle'   # oneDNN on/off is a Paddle Inference switch
    predictor = create_predictor(info, backend, precision, device, threads, **options)
    result = InferResult(deleted_passes=list(predictor.deleted_passes), scale=int(info.scale),
                         backend=predictor.backend, precision=predictor.precision)
    net = self_ensemble(predictor) if tta else predictor
    border = result.scale if crop_border is None else crop_border
    if gt is not None and os.path.isfile(gt) and len(plan) > 1:
        raise ValueError(f"--gt {gt} is one file but --input holds {len(plan)} images; "
                         f"give a folder")
    work = progress(plan) if progress else plan
    for src, dst, rel in work:
        try:
            if os.path.isfile(dst) and not overwrite:
                result.reused.append(dst)
            else:
                image = read_input(src, info.in_channels, info.channel_order)
                low, high = info.value_range
                if (low, high) != (0.0, 1.0):
                    image = image * (high - low) + low
                out = tiled_apply(net, image, result.scale, tile, overlap,
                                  info.out_channels)
                if (low, high) != (0.0, 1.0):
                    out = (out - low) / (high - low)
                hwc = to_uint8_hwc(out)
                del out
                write_png(dst, hwc, info.channel_order)
                result.outputs.append(dst)
        except ValueError as e:
            if len(plan) == 1:
                raise
            result.skipped.append(str(e).splitlines()[0])
            continue
        if gt is None:
            continue
        gt_path = find_gt(gt, src, source)
        if gt_path is None:
            result.skipped.append(f"{src}: no ground truth under {gt} (not scored)")
            continue
        try:
            output_image, gt_image = read_uint8_rgb(dst), read_uint8_rgb(gt_path)
        except ValueError as e:
            result.skipped.append(f"{gt_path}: {e} (not scored)")
            continue
        gt_image = crop_gt_to_output(gt_image, output_image.shape, result.scale)
        try:
            psnr, ssim = image_metrics(output_image, gt_image, border, y_channel)
        except ValueError as e:
            result.skipped.append(f"{rel}: output {e} {gt_path} (not scored)")
            continue
        result.rows.append({'image': rel, 'psnr': psnr, 'ssim': ssim, 'gt': gt_path})
    if gt is not None and not result.rows:
        raise ValueError(f"--gt {gt}: no output could be scored"
                         + (f" ({result.skipped[0]})" if result.skipped else ''))
    return result


def summarize(result: InferResult, output: str) -> Dict[str, str]:
    """Short human-readable lines about a finished :func:`infer` run."""
    lines = {'done': f"wrote {len(result.outputs)} image(s) to {output}"
                     + (f", kept {len(result.reused)} existing (use --overwrite to redo)"
                        if result.reused else '')}
    if result.skipped:
        lines['skipped'] = f"skipped {len(result.skipped)}: " + '; '.join(result.skipped[:3]) \
            + (' ...' if len(result.skipped) > 3 else '')
    return lines
