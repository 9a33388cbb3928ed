"""Frozen VGG-19 encoder of LapStyle (features relu1_1 ... relu5_1), weights from a local file.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021 (encoder from Huang and
Belongie's AdaIN: a VGG-19 normalised for style transfer).

The layer layout and parameter names are those of ppgan's LapStyle
``Encoder`` (``enc_1`` ... ``enc_5``), so PaddleGAN's ``vgg_normalised.pdparams``
(a flat ``nn.Sequential`` state dict: ``0.weight``, ``2.weight``, ...,
``51.bias``) and the ``net_enc`` entry of ppgan's LapStyle checkpoints both
load. Unlike ppgan's encoder this one never downloads anything.
"""
import os
from typing import Dict, List, Tuple

import numpy as np
import paddle
import paddle.nn as nn

from ppgan.models.generators.builder import GENERATORS

from ...weight_files import read_state_file

__all__ = ['LapStyleVGGEncoder', 'VGG_FILE_NAME', 'VGG_SOURCE', 'default_vgg_path',
           'vgg_state_from_encoder']

VGG_FILE_NAME = 'vgg_normalised.pdparams'
VGG_SOURCE = 'https://paddlegan.bj.bcebos.com/models/vgg_normalised.pdparams'
FEATURE_NAMES = ('r11', 'r21', 'r31', 'r41', 'r51')

# Flat VGG layer ranges of enc_1 ... enc_5 (input -> relu1_1 -> ... -> relu5_1).
_STAGES = ((0, 4), (4, 11), (11, 18), (18, 31), (31, 44))


def default_vgg_path() -> str:
    """Where ppgan caches ``vgg_normalised.pdparams``: ``~/.cache/ppgan/``."""
    return os.path.join(os.path.expanduser('~'), '.cache', 'ppgan', VGG_FILE_NAME)


def _where_from() -> str:
    return (f"the encoder needs PaddleGAN's LapStyle VGG weights {VGG_FILE_NAME} "
            f"(published at {VGG_SOURCE}; ppgan keeps it in ~/.cache/ppgan/): put that "
            f"file there or pass its path as weights_path")


def _vgg_layers(base: int) -> List[nn.Layer]:
    b = base
    plan = [(3, b), (b, b), 'M', (b, 2 * b), (2 * b, 2 * b), 'M',
            (2 * b, 4 * b), (4 * b, 4 * b), (4 * b, 4 * b), (4 * b, 4 * b), 'M',
            (4 * b, 8 * b), (8 * b, 8 * b), (8 * b, 8 * b), (8 * b, 8 * b), 'M',
            (8 * b, 8 * b)]
    layers: List[nn.Layer] = [nn.Conv2D(3, 3, 1)]
    for step in plan:
        if step == 'M':
            layers.append(nn.MaxPool2D(2, 2, 0, ceil_mode=True))
        else:
            layers += [nn.Pad2D([1, 1, 1, 1], mode='reflect'), nn.Conv2D(step[0], step[1], 3),
                       nn.ReLU()]
    return layers


def _flat_to_encoder_key(flat_key: str) -> str:
    index, _, param = flat_key.partition('.')
    i = int(index)
    for stage, (start, end) in enumerate(_STAGES, 1):
        if start <= i < end:
            return f'enc_{stage}.{i - start}.{param}'
    return ''  # relu5_2 ... relu5_4: not part of the encoder


def vgg_state_from_encoder(encoder: 'LapStyleVGGEncoder') -> Dict[str, np.ndarray]:
    """The encoder's weights in the flat ``vgg_normalised.pdparams`` layout."""
    out = {}
    for key, value in encoder.state_dict().items():
        stage, index, param = key.split('.')
        start = _STAGES[int(stage[len('enc_'):]) - 1][0]
        out[f'{start + int(index)}.{param}'] = value.numpy()
    return out


@GENERATORS.register()
class LapStyleVGGEncoder(nn.Layer):
    """VGG-19 encoder returning relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 features.

    Frozen: its parameters never receive gradients (gradients still flow
    through it to its input).

    Args:
        weights_path (str): A ``.pdparams`` file with the VGG weights: ppgan's
            ``vgg_normalised.pdparams`` (flat keys ``0.weight`` ... ), an
            encoder state dict (``enc_1.0.weight`` ...), or a checkpoint with a
            ``net_enc`` entry. Empty: ``~/.cache/ppgan/vgg_normalised.pdparams``.
            Default: ''.
        random_init (bool): Skip the file and initialise randomly (Kaiming
            normal). For tests and demos only. Default: False.
        base_channels (int): Width of the first stage (64 for VGG-19; the
            stages have 1x, 2x, 4x, 8x, 8x this). Other widths need
            ``random_init``. Default: 64.

    Input: images (N, 3, H, W) in [0, 1], H, W >= 17 for relu5_1 (>= 9 for
    relu4_1). Output of ``forward(x, depth)``: a tuple of ``depth`` features,
    relu1_1 (N, b, H, W), relu2_1 (N, 2b, ceil(H/2), ...), relu3_1 (N, 4b, /4),
    relu4_1 (N, 8b, /8), relu5_1 (N, 8b, /16).
    """

    def __init__(self, weights_path: str = '', random_init: bool = False,
                 base_channels: int = 64):
        super().__init__()
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError(f"base_channels must be a positive int, got {base_channels!r}")
        if base_channels != 64 and not random_init:
            raise ValueError(f"base_channels={base_channels} has no pretrained VGG weights; "
                             f"use base_channels: 64 or random_init: true")
        layers = _vgg_layers(base_channels)
        self.enc_1, self.enc_2, self.enc_3, self.enc_4, self.enc_5 = (
            nn.Sequential(*layers[start:end]) for start, end in _STAGES)
        if random_init:
            self._random_init()
        else:
            self.load_vgg(weights_path or default_vgg_path())
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def _random_init(self) -> None:
        for layer in self.sublayers():
            if isinstance(layer, nn.Conv2D):
                fan_in = int(np.prod(layer.weight.shape[1:]))
                std = float(np.sqrt(2.0 / fan_in))
                layer.weight.set_value(paddle.normal(0.0, std, layer.weight.shape))
                layer.bias.set_value(paddle.zeros(layer.bias.shape))

    def load_vgg(self, path: str) -> None:
        """Load VGG weights from ``path`` (see ``weights_path``).

        Raises:
            FileNotFoundError: ``path`` does not exist (says where the file comes from).
            ValueError: the file is unreadable, or lacks a layer / has a wrong shape.
        """
        state = read_state_file(path, _where_from())
        if isinstance(state.get('net_enc'), dict):
            state = state['net_enc']
        expected = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        if not any(k.startswith('enc_') for k in state):
            state = {_flat_to_encoder_key(k): v for k, v in state.items()
                     if k.partition('.')[0].isdigit()}
        for key, shape in expected.items():
            if key not in state:
                raise ValueError(f"{path}: not a VGG-19 encoder weight file (no parameter for "
                                 f"{key}); {_where_from()}")
            got = tuple(np.shape(state[key]))
            if got != shape:
                raise ValueError(f"{path}: parameter {key} has shape {got}, expected {shape}; "
                                 f"{_where_from()}")
        self.set_state_dict({k: np.asarray(state[k], dtype='float32') for k in expected})

    def forward(self, x: paddle.Tensor, depth: int = 5) -> Tuple[paddle.Tensor, ...]:
        """Features relu1_1 ... up to the ``depth``-th of relu5_1 (1 <= depth <= 5)."""
        feats = []
        for stage in (self.enc_1, self.enc_2, self.enc_3, self.enc_4, self.enc_5)[:depth]:
            x = stage(x)
            feats.append(x)
        return tuple(feats)
