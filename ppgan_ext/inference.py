"""Paddle Inference for exported ppgan-ext models: predictor, image I/O, tiling, metrics.

A model folder written by :mod:`ppgan_ext.export` holds the graph
(``NAME.json``; Paddle 2 wrote ``NAME.pdmodel``), its weights
(``NAME.pdiparams``) and a small sidecar, ``ppgan_ext.json``, that says how to
feed it (see :func:`read_model_dir`). Folders exported by PaddleGAN itself
(no sidecar, one single-input image-to-image graph in RGB [0, 1]) also work:
their scale is measured with a probe run.

oneDNN on CPU
-------------
Paddle Inference 3.3.1 turns oneDNN on by default on CPU, and two of its
passes break nets of this package's kind (found by deleting candidate passes
one at a time, each try in its own process; ``tools/onednn_probe.py`` repeats
the search):

* ``conv_activation_onednn_fuse_pass`` (PIR name
  ``conv_activation_mkldnn_fuse_pass``) SEGFAULTS while building the fused
  ``onednn_op.fused_conv2d`` when a conv is followed by ``leaky_relu``
  (``pir::FloatAttribute::data()`` on the slope, which a PIR ``.json`` model
  stores as a double). Every ppgan net with LeakyReLU after a conv (ESRGAN's
  RRDBNet, the discriminators) takes the process down. ReLU, PReLU, ELU,
  GELU, Swish, Mish, sigmoid, tanh, hard-swish, hard-sigmoid and ReLU6 fuse
  correctly. Deleted only when the graph contains ``leaky_relu``.
* ``onednn_placement_pass`` moves every op that has a oneDNN kernel onto
  oneDNN. (a) Any ``*_interp`` op (``F.interpolate``, ``nn.Upsample``: the
  ``global_residual`` option of ``TransposeSRResNet``, LapStyle's pyramid)
  then fails on the first run with ``NotImplementedError:
  ConvertPirAttribute2RuntimeAttribute not support
  [pir::ArrayAttribute<pir::DoubleAttribute>]``; (b) oneDNN's ``prelu``
  kernel is about 25x slower than Paddle's own (85 % of the run time of
  SRResNet-style nets). Deleted when the graph contains an ``*_interp`` or a
  ``prelu`` op. The conv fusions (conv + bias + BatchNorm + residual add,
  which are the oneDNN speed-up, ~4.5x over Paddle's im2col conv) run before
  placement and are kept.

Everything else stays as Paddle ships it. :func:`build_config` applies this
policy; the test suite runs such predictors in child processes so that a
regression shows up as a failed test instead of a dead test runner.
"""
import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from .image_io import read_input, read_uint8_rgb, write_png  # noqa: F401 (public names)
from .tiling import tiled_apply, to_uint8_hwc
from .utils import (IMG_EXTENSIONS, atomic_write, missing_path_message, plan_png_outputs,
                    remove_stale_temp_files)

SIDECAR_NAME = 'ppgan_ext.json'
SIDECAR_FORMAT = 'ppgan_ext.inference/1'
GRAPH_SUFFIXES = ('.json', '.pdmodel')
PARAMS_SUFFIX = '.pdiparams'

_INTERP_OPS = ('nearest_interp', 'bilinear_interp', 'bicubic_interp', 'linear_interp',
               'trilinear_interp', 'nearest_interp_v2', 'bilinear_interp_v2',
               'bicubic_interp_v2', 'linear_interp_v2', 'trilinear_interp_v2')

# (ops that trigger it, pass to delete, why). Pass names are the ones
# ``Config.delete_pass`` takes (``config.pass_builder().all_passes()``).
ONEDNN_WORKAROUNDS: Tuple[Tuple[Tuple[str, ...], str, str], ...] = (
    (('leaky_relu',), 'conv_activation_onednn_fuse_pass',
     'segfault building onednn fused_conv2d for conv + leaky_relu'),
    (_INTERP_OPS, 'onednn_placement_pass',
     'oneDNN interp kernels fail: ArrayAttribute<DoubleAttribute> not supported'),
    (('prelu',), 'onednn_placement_pass', 'oneDNN prelu kernel ~25x slower than native'),
)


# ---------------------------------------------------------------- model folder
@dataclass
class ModelInfo:
    """What :func:`read_model_dir` learns about an exported model folder.

    Attributes:
        model_dir (str): The folder.
        model_file (str): Graph file (``.json`` or ``.pdmodel``).
        params_file (str): Weights file (``.pdiparams``).
        kind (str): ``'sr'`` (one image in, one image out, ``scale`` times
            larger) or another kind an exporter declared (e.g. ``'stylize'``).
        inputs (list[dict]): ``{'name', 'shape'}`` per input, in feed order;
            ``-1`` marks a dynamic dimension.
        scale (int or None): Output / input size ratio (None until probed
            for folders without a sidecar).
        in_channels (int): Channels of the (first) image input.
        out_channels (int or None): Channels of the output.
        channel_order (str): ``'RGB'`` or ``'BGR'``, order of colour channels
            in the tensors.
        value_range (tuple[float, float]): Pixel range of the tensors.
        sidecar (dict): The sidecar as read (empty without one).
    """
    model_dir: str
    model_file: str
    params_file: str
    kind: str = 'sr'
    inputs: List[dict] = field(default_factory=list)
    scale: Optional[int] = None
    in_channels: int = 3
    out_channels: Optional[int] = None
    channel_order: str = 'RGB'
    value_range: Tuple[float, float] = (0.0, 1.0)
    sidecar: dict = field(default_factory=dict)


def _graph_candidates(model_dir: str) -> List[str]:
    return sorted(n for n in os.listdir(model_dir)
                  if n.endswith(GRAPH_SUFFIXES) and n != SIDECAR_NAME
                  and os.path.isfile(os.path.join(model_dir, n)))


def find_model_files(model_dir: str) -> Tuple[str, str]:
    """(graph file, params file) of the single model in ``model_dir``.

    Takes Paddle 3's ``NAME.json`` and Paddle 2's ``NAME.pdmodel``, each
    with its ``NAME.pdiparams``.

    Raises:
        FileNotFoundError: the folder does not exist, holds no graph, or the
            graph's ``.pdiparams`` is missing.
        ValueError: several graphs in one folder.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"--model_dir: no such folder: {model_dir}")
    graphs = _graph_candidates(model_dir)
    if not graphs:
        raise FileNotFoundError(f"--model_dir {model_dir}: no model graph (NAME.json or "
                                f"NAME.pdmodel); export one with `paddlegan export`")
    if len(graphs) > 1:
        raise ValueError(f"--model_dir {model_dir}: several model graphs ({', '.join(graphs)}); "
                         f"keep one per folder")
    graph = os.path.join(model_dir, graphs[0])
    params = os.path.splitext(graph)[0] + PARAMS_SUFFIX
    if not os.path.isfile(params):
        raise FileNotFoundError(f"--model_dir {model_dir}: {os.path.basename(params)} is "
                                f"missing (weights of {graphs[0]})")
    return graph, params


def read_model_dir(model_dir: str) -> ModelInfo:
    """Locate and check an exported model; read its sidecar when there is one.

    The sidecar ``ppgan_ext.json`` (written by :func:`ppgan_ext.export.export_model`)::

        {"format": "ppgan_ext.inference/1", "kind": "sr",
         "model_file": "basesrmodel_generator.json",
         "params_file": "basesrmodel_generator.pdiparams",
         "inputs": [{"name": "lq", "shape": [-1, 3, -1, -1]}],
         "scale": 4, "in_channels": 3, "out_channels": 3,
         "channel_order": "RGB", "value_range": [0.0, 1.0], ...}

    Raises:
        FileNotFoundError / ValueError: one line naming the folder and the
            missing or malformed file.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"--model_dir: no such folder: {model_dir}")
    sidecar_path = os.path.join(model_dir, SIDECAR_NAME)
    if not os.path.isfile(sidecar_path):
        graph, params = find_model_files(model_dir)
        return ModelInfo(model_dir, graph, params, inputs=[{'name': None, 'shape': None}])
    try:
        with open(sidecar_path, 'r', encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{sidecar_path}: unreadable sidecar ({e})") from None
    if not isinstance(meta, dict) or meta.get('format') != SIDECAR_FORMAT:
        raise ValueError(f"{sidecar_path}: not a {SIDECAR_FORMAT} sidecar")
    for key in ('model_file', 'params_file', 'inputs', 'kind'):
        if key not in meta:
            raise ValueError(f"{sidecar_path}: missing key {key!r}")
    files = []
    for key in ('model_file', 'params_file'):
        path = os.path.join(model_dir, os.path.basename(str(meta[key])))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--model_dir {model_dir}: {os.path.basename(path)} is "
                                    f"missing (named by {SIDECAR_NAME})")
        files.append(path)
    inputs = meta['inputs']
    if not isinstance(inputs, list) or not inputs or not all(
            isinstance(i, dict) and 'name' in i for i in inputs):
        raise ValueError(f"{sidecar_path}: 'inputs' must be a list of {{name, shape}}")
    order = str(meta.get('channel_order', 'RGB')).upper()
    if order not in ('RGB', 'BGR'):
        raise ValueError(f"{sidecar_path}: channel_order must be 'RGB' or 'BGR', got {order!r}")
    shape = inputs[0].get('shape') or [-1, 3, -1, -1]
    scale = meta.get('scale')
    return ModelInfo(model_dir, files[0], files[1], kind=str(meta['kind']), inputs=inputs,
                     scale=int(scale) if scale is not None else None,
                     in_channels=int(meta.get('in_channels', shape[1] if shape[1] > 0 else 3)),
                     out_channels=meta.get('out_channels'), channel_order=order,
                     value_range=tuple(meta.get('value_range', (0.0, 1.0))), sidecar=meta)


# ---------------------------------------------------------------- predictor
def graph_ops(model_file: str) -> Set[str]:
    """Names of the operators in a saved graph (``.json`` PIR or ``.pdmodel``), no dialect."""
    if model_file.endswith('.pdmodel'):
        from paddle.base.proto import framework_pb2

        with open(model_file, 'rb') as f:
            program = framework_pb2.ProgramDesc.FromString(f.read())
        return {op.type for block in program.blocks for op in block.ops}
    with open(model_file, 'r', encoding='utf-8') as f:
        program = json.load(f)
    names: Set[str] = set()
    stack = [program]
    while stack:  # PIR json: operations are {"#": "<dialect>.<name>", ...} in "ops" lists
        node = stack.pop()
        if isinstance(node, dict):
            for op in node.get('ops', ()) if isinstance(node.get('ops'), list) else ():
                if isinstance(op, dict) and '.' in str(op.get('#', '')):
                    names.add(str(op['#']).split('.', 1)[1])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def onednn_passes_to_delete(ops: Iterable[str]) -> List[str]:
    """The oneDNN passes that must go for a graph with these ops (see module docstring)."""
    ops = set(ops)
    passes: List[str] = []
    for triggers, name, _ in ONEDNN_WORKAROUNDS:
        if ops.intersection(triggers) and name not in passes:
            passes.append(name)
    return passes


def default_threads() -> int:
    """CPU math threads: ``$OMP_NUM_THREADS`` if set, else the machine's cores."""
    env = os.environ.get('OMP_NUM_THREADS', '')
    return int(env) if env.isdigit() and int(env) > 0 else (os.cpu_count() or 1)


def build_config(model_file: str, params_file: str, device: str = 'cpu',
                 threads: Optional[int] = None, onednn: bool = True,
                 delete_passes: Optional[Sequence[str]] = None):
    """The Paddle Inference config every tool of this package uses.

    Args:
        model_file (str): ``.json`` or ``.pdmodel`` graph.
        params_file (str): ``.pdiparams`` weights.
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        threads (int, optional): CPU math threads. Default: :func:`default_threads`.
        onednn (bool): Use oneDNN on CPU (with :data:`ONEDNN_WORKAROUNDS`
            applied). Default: True.
        delete_passes (list[str], optional): Delete exactly these passes
            instead of applying :data:`ONEDNN_WORKAROUNDS` (for diagnosis:
            ``[]`` runs oneDNN as Paddle ships it). Default: None.

    Returns:
        (paddle.inference.Config, list[str]): the config and the passes deleted.
    """
    from paddle import inference

    if device not in ('cpu', 'gpu'):
        raise ValueError(f"--device must be 'cpu' or 'gpu', got {device!r}")
    config = inference.Config(model_file, params_file)
    config.disable_glog_info()
    deleted: List[str] = []
    if device == 'gpu':
        import paddle

        if not paddle.is_compiled_with_cuda():
            raise ValueError("--device gpu: this PaddlePaddle is CPU-only (install "
                             "paddlepaddle-gpu from PaddlePaddle's package index)")
        config.enable_use_gpu(256, 0)
        return config, deleted
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(threads or default_threads())
    if onednn:
        config.enable_mkldnn()
        config.set_mkldnn_cache_capacity(16)  # bounded primitive cache across tile sizes
        if delete_passes is None:
            try:
                deleted = onednn_passes_to_delete(graph_ops(model_file))
            except (ValueError, OSError) as e:  # json / protobuf decode errors
                raise ValueError(f"{model_file}: unreadable model graph ({e})") from None
        else:
            deleted = list(delete_passes)
        for name in deleted:
            config.delete_pass(name)
    else:
        config.disable_mkldnn()
    return config, deleted


class Predictor:
    """A Paddle Inference predictor for an exported model folder.

    Args:
        model_dir (str or ModelInfo): Folder written by ``paddlegan export``
            (or by PaddleGAN's ``tools/export_model.py``).
        device (str): ``'cpu'`` or ``'gpu'``. Default: 'cpu'.
        threads (int, optional): CPU threads. Default: :func:`default_threads`.
        onednn (bool): oneDNN on CPU, with the broken passes removed. Default: True.
        shrink_memory (bool): Release Paddle's memory pool after every run
            (lower peak memory across changing input sizes, a little slower).
            Default: False.
        delete_passes (list[str], optional): See :func:`build_config`. Default: None.

    ``predictor(*arrays)`` feeds float32 NCHW arrays in the order of
    ``info.inputs`` and returns the first output as a float32 array.
    """

    def __init__(self, model_dir, device: str = 'cpu', threads: Optional[int] = None,
                 onednn: bool = True, shrink_memory: bool = False,
                 delete_passes: Optional[Sequence[str]] = None):
        from paddle import inference

        self.shrink_memory = shrink_memory
        self.info = model_dir if isinstance(model_dir, ModelInfo) else read_model_dir(model_dir)
        config, self.deleted_passes = build_config(self.info.model_file, self.info.params_file,
                                                   device, threads, onednn, delete_passes)
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as e:  # Paddle raises several types for unreadable models
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ValueError(f"--model_dir {self.info.model_dir}: Paddle Inference cannot load "
                             f"{os.path.basename(self.info.model_file)} + "
                             f"{os.path.basename(self.info.params_file)}: {first}") from None
        self.input_names = self._predictor.get_input_names()
        self.output_names = self._predictor.get_output_names()
        wanted = [i.get('name') for i in self.info.inputs]
        if all(wanted) and set(wanted) <= set(self.input_names):
            self.input_names = wanted
        if self.info.scale is None:
            self._probe()

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if len(arrays) != len(self.input_names):
            raise ValueError(f'the model takes {len(self.input_names)} input(s) '
                             f'({", ".join(self.input_names)}), got {len(arrays)}')
        for name, array in zip(self.input_names, arrays):
            handle = self._predictor.get_input_handle(name)
            array = np.ascontiguousarray(array, dtype=np.float32)
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        self._predictor.run()
        out = self._predictor.get_output_handle(self.output_names[0]).copy_to_cpu()
        if self.shrink_memory:
            self._predictor.try_shrink_memory()
        return out

    def _probe(self) -> None:
        """Measure scale and channels of a model without a sidecar (one 16x16 run)."""
        if len(self.input_names) != 1:
            raise ValueError(f"--model_dir {self.info.model_dir}: no {SIDECAR_NAME} and "
                             f"{len(self.input_names)} inputs; only single-input image models "
                             f"run without a sidecar")
        handle = self._predictor.get_input_handle(self.input_names[0])
        shape = list(handle.shape()) if hasattr(handle, 'shape') else []
        channels = shape[1] if len(shape) == 4 and shape[1] > 0 else 3
        out = self(np.zeros((1, channels, 16, 16), np.float32))
        if out.ndim != 4 or out.shape[2] % 16 or out.shape[3] % 16 or out.shape[2] != out.shape[3]:
            raise ValueError(f"--model_dir {self.info.model_dir}: output shape "
                             f"{tuple(out.shape)} for a 16x16 input is not an image upscale")
        self.info.scale = out.shape[2] // 16
        self.info.in_channels, self.info.out_channels = channels, int(out.shape[1])
        self.info.inputs = [{'name': self.input_names[0], 'shape': [-1, channels, -1, -1]}]


# ---------------------------------------------------------------- metrics
def image_metrics(output: np.ndarray, gt: np.ndarray, crop_border: int,
                  y_channel: bool = False) -> Tuple[float, float]:
    """(PSNR, SSIM) of uint8 HWC RGB images with ppgan's ``calculate_psnr/ssim``."""
    from ppgan.metrics.psnr_ssim import calculate_psnr, calculate_ssim

    if gt.shape[2] == 1 and output.shape[2] == 3:
        gt = np.repeat(gt, 3, axis=2)
    if output.shape != gt.shape:
        raise ValueError(f'size {output.shape[1]}x{output.shape[0]}x{output.shape[2]} differs '
                         f'from the ground truth {gt.shape[1]}x{gt.shape[0]}x{gt.shape[2]}')
    psnr = calculate_psnr(output, gt, crop_border, 'HWC', y_channel)
    ssim = calculate_ssim(output, gt, crop_border, 'HWC', y_channel)
    return float(psnr), float(ssim)


def metrics_table(rows: Sequence[dict]) -> str:
    """A plain-text table of ``{'image', 'psnr', 'ssim'}`` rows with their mean."""
    width = max([len('image'), len('mean')] + [len(r['image']) for r in rows])
    lines = [f"{'image':<{width}}  {'PSNR':>8}  {'SSIM':>7}"]
    for r in rows:
        lines.append(f"{r['image']:<{width}}  {r['psnr']:8.4f}  {r['ssim']:7.4f}")
    if rows:
        lines.append(f"{'mean':<{width}}  {np.mean([r['psnr'] for r in rows]):8.4f}  "
                     f"{np.mean([r['ssim'] for r in rows]):7.4f}")
    return '\n'.join(lines)


def write_metrics_csv(path: str, rows: Sequence[dict]) -> None:
    """``image,psnr,ssim`` rows (full precision) and a final ``mean`` row, written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['image', 'psnr', 'ssim'])
    for r in rows:
        writer.writerow([r['image'], repr(r['psnr']), repr(r['ssim'])])
    if rows:
        writer.writerow(['mean', repr(float(np.mean([r['psnr'] for r in rows]))),
                         repr(float(np.mean([r['ssim'] for r in rows])))])

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(buf.getvalue())

    atomic_write(path, write)


# ---------------------------------------------------------------- folder job
@dataclass
class InferResult:
    """What :func:`infer` did: written / reused outputs, metric rows, skipped files."""
    outputs: List[str] = field(default_factory=list)
    reused: List[str] = field(default_factory=list)
    rows: List[dict] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    deleted_passes: List[str] = field(default_factory=list)
    scale: int = 1


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
          overlap: int = 16, device: str = 'cpu', overwrite: bool = False,
          threads: Optional[int] = None, crop_border: Optional[int] = None,
          y_channel: bool = False, onednn: bool = True,
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
        onednn (bool): oneDNN on CPU. Default: True.
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
        hint = " (run it with `paddlegan stylize --model_dir`)" if info.kind == 'stylize' else ''
        raise ValueError(f"--model_dir {model_dir}: a {info.kind!r} model; `paddlegan infer` "
                         f"runs image-to-image ('sr') models{hint}")
    if len(info.inputs) != 1:
        raise ValueError(f"--model_dir {model_dir}: {len(info.inputs)} inputs; `paddlegan "
                         f"infer` runs single-input models")
    plan = plan_outputs(source, output)
    remove_stale_temp_files(output)   # partial files of a killed run
    predictor = Predictor(info, device=device, threads=threads, onednn=onednn)
    result = InferResult(deleted_passes=predictor.deleted_passes, scale=int(info.scale))
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
                out = tiled_apply(predictor, image, result.scale, tile, overlap,
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
            psnr, ssim = image_metrics(read_uint8_rgb(dst), read_uint8_rgb(gt_path), border,
                                       y_channel)
        except ValueError as e:
            result.skipped.append(f"{gt_path}: {e} (not scored)")
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
