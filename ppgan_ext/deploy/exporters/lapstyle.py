"""Exporter of LapStyle models: the whole pyramid as ONE graph ``(content, style) -> stylized``.

Draft + K revision nets + pyramid ops (``kind: stylize``), for
:class:`ppgan_ext.models.lapstyle_model.LapStylePyramidModel`. The pyramid's
``semantics`` (``'ppgan'`` or ``'exact'``, see :mod:`ppgan_ext.pyramid`) is
recorded in the sidecar; both convert to ONNX.
"""
import copy
import glob
import inspect
from typing import List, Optional, Tuple

import numpy as np
from ppgan.models.generators.builder import GENERATORS

from ...models.generators.lapstyle_pyramid import revision_net_name
from ...models.lapstyle_model import DEFAULT_NETS, STAGES, LapStylePyramidModel
from ...pyramid import content_multiple, min_style_side
from ...weight_files import is_state_dict, read_state_file
from ..export_spec import ExportSpec, register_exporter

__all__ = ['export_config', 'export_pyramid', 'two_input_names', 'stylize_parity_sizes']


def two_input_names(options: dict, what: str) -> List[str]:
    """The ``(content, style)`` input names of ``export_model`` options, checked."""
    names = [str(n) for n in options.get('input_names', ('content', 'style'))]
    if int(options.get('inputs_num', 2)) != 2 or len(names) != 2:
        raise ValueError(f"export_model: {what} takes two inputs (content, style), "
                         f"got input_names {names}")
    return names


def stylize_parity_sizes(levels: int) -> List[Tuple[int, int]]:
    """Content sizes a K-level pyramid graph is checked at: square, odd, and uneven."""
    m = content_multiple(levels)
    return [(2 * m, 2 * m), (47, 33), (3 * m + 5, 2 * m + 1)]


def _pyramid_nets(levels: int) -> List[str]:
    """Nets of the exported pyramid that must come from the weight file (not the encoder)."""
    return ['net_dec'] + [revision_net_name(k) for k in range(1, levels + 1)]


def _accepts(generator_name: str, arg: str) -> bool:
    try:
        cls = GENERATORS.get(generator_name)
    except KeyError:
        return False
    try:
        return arg in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def export_config(model_cfg: dict, weights: Optional[str]) -> dict:
    """The ``model`` config to build for ``paddlegan export --load WEIGHTS``.

    In training, a revision stage reads the drafting net and the lower
    revision levels from the files ``draft_weights`` / ``revision_weights``
    name. A weight file of that stage already holds the whole pyramid, so for
    export every net comes from ``weights`` and those files need not exist;
    when ``weights`` holds the encoder (``net_enc``: ours and ppgan's
    checkpoints do) the VGG file is not read either. Without ``weights`` the
    config is used as it is.

    Raises:
        FileNotFoundError / ValueError: one line naming the weight file and
            the net the config's pyramid needs but the file lacks.
    """
    if not weights:
        return model_cfg
    cfg = copy.deepcopy(dict(model_cfg))
    stage = cfg.get('stage', 'draft')
    levels = cfg.get('levels', 0)
    if stage not in STAGES or not isinstance(levels, int) or isinstance(levels, bool):
        return cfg  # the constructor explains what is wrong
    state = read_state_file(weights, key='--load')
    needed = _pyramid_nets(levels)
    held = sorted(k for k, v in state.items() if is_state_dict(v))
    for name in needed:
        if not is_state_dict(state.get(name)):
            raise ValueError(f"--load {weights}: no {name!r} weights; the config's pyramid "
                             f"(stage {stage}, levels {levels}) needs {', '.join(needed)} "
                             f"(the file holds: {', '.join(held) or 'no nets'})")
    encoder = dict(cfg.get('encoder_generator') or DEFAULT_NETS['encoder_generator'])
    if is_state_dict(state.get('net_enc')):
        if _accepts(str(encoder.get('name')), 'random_init'):
            encoder['random_init'] = True  # replaced by the file's net_enc right after
            cfg['encoder_generator'] = encoder
    elif encoder.get('random_init'):
        raise ValueError(f"--load {weights}: no 'net_enc' weights, and the config's encoder "
                         f"is random (model.encoder_generator.random_init: true)")
    if stage == 'revision':
        literal = glob.escape(weights)  # a path, even if it has glob characters
        cfg['draft_weights'] = literal
        cfg['revision_weights'] = [literal] * (levels - 1)
    return cfg


@register_exporter('LapStylePyramidModel', prepare=export_config)
def export_pyramid(model: 'LapStylePyramidModel', cfg: dict, options: dict,
                   inputs_size: Optional[List[List[int]]] = None) -> ExportSpec:
    """The whole pyramid of a LapStyle model as ONE graph ``(content, style) -> stylized``.

    Draft + ``model.levels`` revision nets + pyramid ops
    (:meth:`LapStylePyramidModel.inference_net`): content (N, 3, H, W) and
    style (N, 3, H', W') in [0, 1], RGB, any H, W (padded inside, cropped
    back), style sides ``>= 2 ** (levels + 4)``; output (N, 3, H, W) in
    [0, 1]. The parity check feeds random content at 2m x 2m, 47x33 and
    (3m + 5) x (2m + 1), m = ``2 ** (levels + 3)``, and a random
    (2**(levels+4) + 5) x (2**(levels+4) + 19) style.

    Config ``export_model`` keys used: ``input_names`` (default
    ``[content, style]``), ``parity_sizes``; ``net`` may only be
    ``pyramid``.
    """
    from paddle.static import InputSpec

    net_name = options.get('net', 'pyramid')
    if net_name != 'pyramid':
        raise ValueError(f"export_model.net: LapStylePyramidModel exports its whole pyramid "
                         f"(net: pyramid), got {net_name!r}")
    names = two_input_names(options, 'the LapStyle pyramid')
    if str(options.get('channel_order', 'RGB')).upper() != 'RGB':
        raise ValueError("export_model.channel_order: LapStyle nets take RGB images")
    shapes = [list(s) for s in inputs_size] if inputs_size else [[1, 3, -1, -1]] * 2
    if len(shapes) != 2 or any(len(s) != 4 or s[1] != 3 for s in shapes):
        raise ValueError(f"--inputs-size: {shapes} does not fit the LapStyle pyramid, which "
                         f"takes content and style of shape (N, 3, H, W): "
                         f"-s=\"1,3,-1,-1;1,3,-1,-1\"")
    levels = model.levels
    style_min = min_style_side(levels)
    multiple = content_multiple(levels)
    style_shape = [d if d > 0 else default for d, default in
                   zip(shapes[1], (1, 3, style_min + 5, style_min + 19))]
    if min(style_shape[2:]) < style_min:
        raise ValueError(f"--inputs-size: style {shapes[1]} is too small; {levels} revision "
                         f"level(s) need style sides >= {style_min}")

    def make_inputs(rng: np.random.Generator, height: int, width: int) -> List[np.ndarray]:
        content = [d if d > 0 else default for d, default in
                   zip(shapes[0], (1, 3, height, width))]
        return [rng.random(content, dtype=np.float32), rng.random(style_shape, dtype=np.float32)]

    net = model.inference_net()
    net.eval()
    sizes = stylize_parity_sizes(levels)
    return ExportSpec(
        layer=net,
        input_specs=[InputSpec([d if d > 0 else None for d in s], 'float32', name=n)
                     for s, n in zip(shapes, names)],
        kind='stylize', name='lapstyle_pyramid', scale=1, in_channels=3, out_channels=3,
        channel_order='RGB', value_range=(0.0, 1.0),
        nets=_pyramid_nets(levels), make_inputs=make_inputs, parity_sizes=sizes,
        meta={'net': 'pyramid', 'levels': levels, 'stage': model.stage,
              'semantics': net.semantics,
              'graph_nets': ['net_enc'] + _pyramid_nets(levels),
              'style_min_side': style_min, 'content_multiple': multiple})
