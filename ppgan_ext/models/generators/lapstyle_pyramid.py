"""The whole LapStyle pyramid as one Layer: ``(content, style) -> stylized``.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021.

This is the inference (and export) form of a trained LapStyle model: the
drafting net at the coarsest level, K revision nets, and the pyramid ops,
with padding and cropping inside, so any content size works and
``paddle.jit.to_static`` with inputs ``[1, 3, None, None]`` gives one Paddle
Inference model.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ppgan.models.generators.builder import GENERATORS

from ...pyramid import (check_semantics, content_multiple, downsample, laplacian_pyramid,
                        min_content_side, pad_to_multiple, revision_inputs, spatial_size)
from ...weight_files import load_net_state, read_state_file, resolve_weights_path
from .lapstyle_draft import LapStyleDraftNet, semantics_of_state
from .lapstyle_encoder import LapStyleVGGEncoder
from .lapstyle_revision import LapStyleRevisionNet

__all__ = ['LapStylePyramidNet', 'revision_net_name', 'semantics_of_checkpoint',
           'lapstyle_sizes', 'pyramid_from_weights']


def revision_net_name(level: int) -> str:
    """Checkpoint name of revision level ``level`` (1-based): ``net_rev``, ``net_rev_2``, ...

    The same names as ppgan's LapStyle checkpoints.
    """
    return 'net_rev' if level == 1 else f'net_rev_{level}'


def semantics_of_checkpoint(state: Dict, source: str = 'weights') -> str:
    """Pyramid semantics of a LapStyle checkpoint dict (from its ``net_dec``; absent: ppgan).

    Raises:
        ValueError: no ``net_dec`` entry, or an unknown record; names ``source``.
    """
    dec = state.get('net_dec')
    if not isinstance(dec, dict):
        raise ValueError(f"{source}: no 'net_dec' weights (not a LapStyle weight file)")
    try:
        return semantics_of_state(dec)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


@GENERATORS.register()
class LapStylePyramidNet(nn.Layer):
    """Drafting net + ``levels`` revision nets + Laplacian pyramid, end to end.

    The single definition of the LapStyle pyramid forward: inference,
    ``paddle.jit.save`` export and :class:`LapStylePyramidModel` training
    all run :meth:`stylize_levels`.

    The content is replicate-padded (bottom/right) to a multiple of
    ``2 ** (levels + 3)`` and at least twice that (the size rules live in
    :mod:`ppgan_ext.pyramid`), split into a Laplacian pyramid; the draft is
    made at the coarsest level from the content and the style downsampled
    ``levels`` times; each revision net then adds the detail of one finer
    level; the result is cropped back to the content's size and clipped to
    [0, 1].

    ``semantics`` says which pyramid the weights were trained with (see
    :mod:`ppgan_ext.pyramid`): ``'ppgan'`` reproduces PaddleGAN's
    ``LapStylePredictor`` (bilinear ``align_corners=False`` pyramid and fold,
    nearest 2x of the level below as the revision input, unbiased AdaIN
    variance, style downsampled by ppgan's resample); ``'exact'`` is the
    binomial exact-folding pyramid with population-variance AdaIN.
    Checkpoints record it (:func:`semantics_of_checkpoint`); a checkpoint
    without the record is ppgan's.

    Built empty (weights from :meth:`load_weights`), or around trained nets
    with :meth:`from_nets`.

    Args:
        levels (int): Revision levels K, ``>= 0`` (0: draft only, at the
            content's resolution). Default: 2.
        base_channels (int): Encoder/draft width (64 for VGG-19). Default: 64.
        num_feat (int): Revision net width. Default: 64.
        semantics (str): ``'ppgan'`` or ``'exact'``. Default: 'ppgan'.

    Inputs of ``forward(content, style)``: (1 or N, 3, H, W) and (N, 3, H', W')
    in [0, 1]; the style's sides must be at least ``2 ** (levels + 4)``.
    Output: (N, 3, H, W) in [0, 1].
    """

    def __init__(self, levels: int = 2, base_channels: int = 64, num_feat: int = 64,
                 semantics: str = 'ppgan'):
        super().__init__()
        if not isinstance(levels, int) or levels < 0:
            raise ValueError(f"levels must be an int >= 0, got {levels!r}")
        self.levels = levels
        self.semantics = check_semantics(semantics)
        self.encoder = LapStyleVGGEncoder(random_init=True, base_channels=base_channels)
        self.draft = LapStyleDraftNet(base_channels, semantics=semantics)
        self.revisions = nn.LayerList([LapStyleRevisionNet(num_feat, semantics=semantics)
                                       for _ in range(levels)])

    @classmethod
    def from_nets(cls, encoder: nn.Layer, draft: nn.Layer, revisions: Sequence[nn.Layer],
                  semantics: Optional[str] = None) -> 'LapStylePyramidNet':
        """Wrap existing nets (shared, not copied).

        ``semantics`` defaults to the drafting net's ``semantics`` attribute.
        """
        net = cls.__new__(cls)
        nn.Layer.__init__(net)
        net.levels = len(revisions)
        if semantics is None:
            semantics = getattr(draft, 'semantics', 'ppgan')
        net.semantics = check_semantics(semantics)
        net.encoder = encoder
        net.draft = draft
        net.revisions = nn.LayerList(list(revisions))
        return net

    @staticmethod
    def input_spec() -> List[paddle.static.InputSpec]:
        """``[content, style]`` specs for ``paddle.jit.to_static``: (1, 3, H, W), any H, W."""
        return [paddle.static.InputSpec([1, 3, None, None], 'float32', name='content'),
                paddle.static.InputSpec([1, 3, None, None], 'float32', name='style')]

    def load_weights(self, state: Dict[str, Dict[str, np.ndarray]],
                     source: str = 'weights') -> None:
        """Load a LapStyle checkpoint dict: ``net_enc``, ``net_dec``, ``net_rev``, ``net_rev_2`` ...

        ppgan's LapStyle checkpoints have the same layout.

        Raises:
            ValueError: a net this pyramid needs is missing, a shape differs,
                or the checkpoint's semantics is not this net's; names ``source``.
        """
        parts = [('net_enc', self.encoder), ('net_dec', self.draft)]
        parts += [(revision_net_name(k + 1), rev) for k, rev in enumerate(self.revisions)]
        for name, layer in parts:
            sub = state.get(name)
            if not isinstance(sub, dict):
                held = sorted(k for k, v in state.items() if isinstance(v, dict))
                need = (f"needed for a {self.levels}-level pyramid" if name.startswith('net_rev')
                        else "needed by every LapStyle pyramid")
                raise ValueError(f"{source}: no {name!r} weights, {need} (the file holds: "
                                 f"{', '.join(held) or 'no nets'})")
            load_net_state(layer, sub, source, name)

    def check_state(self, state: Dict, source: str) -> None:
        """Refuse a whole-pyramid state dict (``draft.*`` keys) of the other semantics."""
        draft = {k[len('draft.'):]: v for k, v in state.items() if k.startswith('draft.')}
        if draft:
            self.draft.check_state(draft, source)

    # ---------------------------------------------------------------- forward
    def encode_style(self, style: paddle.Tensor) -> Tuple[paddle.Tensor, ...]:
        """Encoder features (relu1_1 .. relu4_1) of the style at the drafting level.

        Computed once per style and passed to :meth:`stylize_levels`, so a
        folder stylized with one style encodes it once.
        """
        return self.encoder(downsample(style, self.levels, self.semantics), 4)

    def stylize_levels(self, content: paddle.Tensor,
                       style_feats: Sequence[paddle.Tensor]) -> List[paddle.Tensor]:
        """Stylizations at every level, coarsest (the draft) first, not clipped.

        Args:
            content (Tensor): (N, 3, H, W) in [0, 1], any H, W (padded here).
            style_feats (list[Tensor]): :meth:`encode_style` of the style.

        Returns:
            list[Tensor]: ``levels + 1`` tensors; the last is (N, 3, H, W), the
            others are at their (padded) level's size.
        """
        h, w = spatial_size(content)
        padded = pad_to_multiple(content, content_multiple(self.levels),
                                 min_content_side(self.levels))
        pyramid = laplacian_pyramid(padded, self.levels, self.semantics)
        out = self.draft(self.encoder(pyramid[-1], 4), style_feats)
        outs = [out]
        for k in range(self.levels):
            band = pyramid[self.levels - 1 - k]
            image, base = revision_inputs(out, band, self.semantics)
            out = base + self.revisions[k](band, image)
            outs.append(out)
        outs[-1] = outs[-1][:, :, :h, :w]
        return outs

    def forward_encoded(self, content: paddle.Tensor,
                        style_feats: Sequence[paddle.Tensor]) -> paddle.Tensor:
        """:meth:`forward` with the style already encoded (:meth:`encode_style`)."""
        return paddle.clip(self.stylize_levels(content, style_feats)[-1], 0.0, 1.0)

    def forward(self, content: paddle.Tensor, style: paddle.Tensor) -> paddle.Tensor:
        return self.forward_encoded(content, self.encode_style(style))


def lapstyle_sizes(state: Dict, source: str) -> Tuple[int, int, int]:
    """(revision levels, encoder/draft width, revision width) of a LapStyle state dict.

    Raises:
        ValueError: not a LapStyle weight file (names ``source``).
    """
    try:
        base = int(state['net_dec']['final_conv.1.weight'].shape[1])
    except (KeyError, TypeError, AttributeError):
        raise ValueError(f"{source}: not a LapStyle weight file (no net_dec.final_conv)") from None
    levels, feat = 0, 64
    while isinstance(state.get(revision_net_name(levels + 1)), dict):
        rev = state[revision_net_name(levels + 1)]
        if 'DownBlock.1.weight' not in rev:
            raise ValueError(f"{source}: {revision_net_name(levels + 1)} is not a LapStyle "
                             f"revision net")
        feat = int(rev['DownBlock.1.weight'].shape[0])
        levels += 1
    return levels, base, feat


def pyramid_from_weights(path: str, levels: Optional[int] = None,
                         key: str = 'lapstyle_weights',
                         levels_key: Optional[str] = None) -> 'LapStylePyramidNet':
    """A :class:`LapStylePyramidNet` (eval mode) built and loaded from a LapStyle weight file.

    Args:
        path (str): Weight/checkpoint file (``net_enc``, ``net_dec``,
            ``net_rev`` ...; ours or ppgan's); a glob picks the newest match.
        levels (int, optional): Revision levels to use (default: all in the file).
        key (str): Flag or config key named in errors. Default: 'lapstyle_weights'.
        levels_key (str, optional): Flag that gave ``levels``, named in its error.

    Raises:
        FileNotFoundError / ValueError: missing or unreadable file, ``levels``
            above what it holds.
    """
    path = resolve_weights_path(path, key)
    state = read_state_file(path, key=key)
    available, base, feat = lapstyle_sizes(state, path)
    levels = available if levels is None else levels
    if not isinstance(levels, int) or not 0 <= levels <= available:
        raise ValueError(f"{levels_key} {levels}: {path} has revision levels 0..{available}"
                         if levels_key else
                         f"{key}: {path} has revision levels 0..{available}, got {levels!r}")
    net = LapStylePyramidNet(levels, base_channels=base, num_feat=feat,
                             semantics=semantics_of_checkpoint(state, path))
    net.load_weights(state, path)
    net.eval()
    return net
