"""The whole LapStyle pyramid as one Layer: ``(content, style) -> stylized``.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021.

This is the inference (and export) form of a trained LapStyle model: the
drafting net at the coarsest level, K revision nets, and the pyramid ops,
with padding and cropping inside, so any content size works and
``paddle.jit.to_static`` with inputs ``[1, 3, None, None]`` gives one Paddle
Inference model.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn

from ppgan.models.generators.builder import GENERATORS

from ...pyramid import laplacian_pyramid, pad_to_multiple, pyr_down, pyr_up, spatial_size
from ...weight_files import load_net_state
from .lapstyle_draft import LapStyleDraftNet
from .lapstyle_encoder import LapStyleVGGEncoder
from .lapstyle_revision import LapStyleRevisionNet

__all__ = ['LapStylePyramidNet', 'revision_net_name']


def revision_net_name(level: int) -> str:
    """Checkpoint name of revision level ``level`` (1-based): ``net_rev``, ``net_rev_2``, ...

    The same names as ppgan's LapStyle checkpoints.
    """
    return 'net_rev' if level == 1 else f'net_rev_{level}'


@GENERATORS.register()
class LapStylePyramidNet(nn.Layer):
    """Drafting net + ``levels`` revision nets + Laplacian pyramid, end to end.

    The content is replicate-padded (bottom/right) to a multiple of
    ``2 ** (levels + 3)`` and at least twice that, split into a Laplacian
    pyramid; the draft is made at the coarsest level from the content and
    the style downsampled ``levels`` times; each revision net then adds the
    detail of one finer level; the result is cropped back to the content's
    size and clipped to [0, 1].

    Built empty (weights from :meth:`load_weights`), or around trained nets
    with :meth:`from_nets`.

    Args:
        levels (int): Revision levels K, ``>= 0`` (0: draft only, at the
            content's resolution). Default: 2.
        base_channels (int): Encoder/draft width (64 for VGG-19). Default: 64.
        num_feat (int): Revision net width. Default: 64.

    Inputs of ``forward(content, style)``: (1 or N, 3, H, W) and (N, 3, H', W')
    in [0, 1]; the style's sides must be at least ``2 ** (levels + 4)``.
    Output: (N, 3, H, W) in [0, 1].
    """

    def __init__(self, levels: int = 2, base_channels: int = 64, num_feat: int = 64):
        super().__init__()
        if not isinstance(levels, int) or levels < 0:
            raise ValueError(f"levels must be an int >= 0, got {levels!r}")
        self.levels = levels
        self.encoder = LapStyleVGGEncoder(random_init=True, base_channels=base_channels)
        self.draft = LapStyleDraftNet(base_channels)
        self.revisions = nn.LayerList([LapStyleRevisionNet(num_feat) for _ in range(levels)])

    @classmethod
    def from_nets(cls, encoder: nn.Layer, draft: nn.Layer,
                  revisions: Sequence[nn.Layer]) -> 'LapStylePyramidNet':
        """Wrap existing nets (shared, not copied)."""
        net = cls.__new__(cls)
        nn.Layer.__init__(net)
        net.levels = len(revisions)
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
            ValueError: a net this pyramid needs is missing, or a shape differs;
                names ``source``.
        """
        parts = [('net_enc', self.encoder), ('net_dec', self.draft)]
        parts += [(revision_net_name(k + 1), rev) for k, rev in enumerate(self.revisions)]
        for name, layer in parts:
            sub = state.get(name)
            if not isinstance(sub, dict):
                raise ValueError(f"{source}: no {name!r} weights, needed for a "
                                 f"{self.levels}-level pyramid")
            load_net_state(layer, sub, source, name)

    def stylize_pyramid(self, content: paddle.Tensor, style: paddle.Tensor,
                        upto: Optional[int] = None) -> List[paddle.Tensor]:
        """Stylizations at every level, coarsest (the draft) first.

        ``content`` must already have sides that are multiples of ``2 ** levels``
        (and large enough for the encoder); no padding or clipping here.
        ``upto`` limits the revision levels used (default: all).
        """
        levels = self.levels if upto is None else upto
        pyramid = laplacian_pyramid(content, levels)
        small_style = style
        for _ in range(levels):
            small_style = pyr_down(small_style)
        out = self.draft(self.encoder(pyramid[-1], 4), self.encoder(small_style, 4))
        outs = [out]
        for k in range(levels):
            band = pyramid[levels - 1 - k]
            up = pyr_up(out, spatial_size(band))
            out = up + self.revisions[k](band, up)
            outs.append(out)
        return outs

    def forward(self, content: paddle.Tensor, style: paddle.Tensor) -> paddle.Tensor:
        h, w = spatial_size(content)
        multiple = 2 ** (self.levels + 3)
        padded = pad_to_multiple(content, multiple, 2 * multiple)
        out = self.stylize_pyramid(padded, style)[-1]
        return paddle.clip(out[:, :, :h, :w], 0.0, 1.0)
