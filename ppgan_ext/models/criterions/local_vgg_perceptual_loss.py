"""VGG19 perceptual loss whose weights come from a local ``.pdparams`` file."""
import logging
import os
from typing import Dict, List, Mapping, Tuple, Union

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from ppgan.models.criterions.builder import CRITERIONS

logger = logging.getLogger(__name__)

# VGG19 ("E") convolution widths per block; each block ends with a 2x2 max-pool.
_VGG19_BLOCKS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512),
                 (512, 512, 512, 512))
RANDOM_WEIGHTS = 'random'
_CRITERIA = ('l1', 'l2')
_EXPECTED_FILE = (
    "expected VGG19 weights as a Paddle state dict with keys 'features.N.weight' / "
    "'features.N.bias' (Paddle's vgg19.pdparams, e.g. written by paddle.save("
    "paddle.vision.models.vgg19(pretrained=True).state_dict(), PATH), or ppgan's "
    "~/.cache/ppgan/vgg19.pdparams)")


def vgg19_layer_names() -> List[str]:
    """Names of ``paddle.vision.models.vgg19().features`` layers, by index.

    ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ...`` up to ``pool5``
    (37 layers); ``conv5_4`` is index 34.
    """
    names = []
    for block, widths in enumerate(_VGG19_BLOCKS, start=1):
        for i in range(1, len(widths) + 1):
            names += [f'conv{block}_{i}', f'relu{block}_{i}']
        names.append(f'pool{block}')
    return names


def _conv_shapes() -> Dict[int, Tuple[int, int]]:
    """Layer index -> (in_channels, out_channels) of every VGG19 conv."""
    shapes, index, channels = {}, 0, 3
    for widths in _VGG19_BLOCKS:
        for width in widths:
            shapes[index] = (channels, width)
            channels = width
            index += 2
        index += 1
    return shapes


def _layer_index(key: Union[str, int], names: List[str]) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        index = key
    elif isinstance(key, str) and key.isdigit():
        index = int(key)
    elif isinstance(key, str) and key in names:
        return names.index(key)
    else:
        raise ValueError(f"LocalVGGPerceptualLoss: layer_weights key {key!r} is not a VGG19 "
                         f"layer; use a name such as 'relu2_2', 'conv5_4' (conv/relu/pool"
                         f"<block>_<n>) or an index 0-{len(names) - 1} of vgg19().features")
    if not 0 <= index < len(names):
        raise ValueError(f"LocalVGGPerceptualLoss: layer_weights key {key!r} is out of range; "
                         f"VGG19 features have indices 0-{len(names) - 1}")
    return index


def _one_line(err: Exception) -> str:
    text = ' '.join(str(err).split())
    return f'{type(err).__name__}: {text[:200]}' if text else type(err).__name__


def load_vgg19_state(path: str, num_layers: int) -> Dict[str, np.ndarray]:
    """Read the conv weights of the first ``num_layers`` VGG19 feature layers.

    Args:
        path (str): A ``.pdparams`` file holding a VGG19 state dict
            (``features.N.weight`` of shape (out, in, 3, 3), ``features.N.bias``).
            Other keys (the classifier) are ignored.
        num_layers (int): How many layers of ``vgg19().features`` are needed.

    Returns:
        dict: ``features.N.weight`` / ``features.N.bias`` -> float32 arrays.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is unreadable, or a key is missing or mis-shaped.
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vgg_path: file not found: {path}; {_EXPECTED_FILE}; "
                                f"or switch the term off with perceptual_weight: 0")
    try:
        state = paddle.load(path, return_numpy=True)
    except Exception as e:  # paddle.load raises many types on bad pickles
        raise ValueError(f"vgg_path: cannot read {path} ({_one_line(e)}); "
                         f"{_EXPECTED_FILE}") from None
    if not isinstance(state, Mapping):
        raise ValueError(f"vgg_path: {path} holds a {type(state).__name__}, not a state "
                         f"dict; {_EXPECTED_FILE}")
    weights = {}
    for index, (cin, cout) in _conv_shapes().items():
        if index >= num_layers:
            break
        for suffix, shape in (('weight', (cout, cin, 3, 3)), ('bias', (cout,))):
            key = f'features.{index}.{suffix}'
            if key not in state:
                raise ValueError(f"vgg_path: {path} has no key {key!r}; {_EXPECTED_FILE}")
            value = np.asarray(state[key], dtype=np.float32)
            if value.shape != shape:
                raise ValueError(f"vgg_path: {path}: {key} has shape {value.shape}, VGG19 "
                                 f"needs {shape}; {_EXPECTED_FILE}")
            weights[key] = value
    return weights


class VGG19Features(nn.Layer):
    """The first ``num_layers`` layers of VGG19's feature extractor, frozen.

    Very Deep Convolutional Networks for Large-Scale Image Recognition
    (Simonyan and Zisserman, ICLR 2015). Layer indices and parameter names are
    those of ``paddle.vision.models.vgg19().features``.

    Args:
        num_layers (int): Layers kept (1-37); deeper layers are not built.
        vgg_path (str): ``.pdparams`` file with VGG19 weights, or ``'random'``
            for random weights (tests only).
    """

    def __init__(self, num_layers: int, vgg_path: str):
        super().__init__()
        names = vgg19_layer_names()
        if not 1 <= num_layers <= len(names):
            raise ValueError(f'VGG19Features: num_layers must be in 1-{len(names)}, '
                             f'got {num_layers!r}')
        convs = _conv_shapes()
        layers = []
        for index in range(num_layers):
            if index in convs:
                layers.append(nn.Conv2D(*convs[index], kernel_size=3, padding=1))
            elif names[index].startswith('relu'):
                layers.append(nn.ReLU())
            else:
                layers.append(nn.MaxPool2D(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        if vgg_path == RANDOM_WEIGHTS:
            logger.warning('LocalVGGPerceptualLoss: vgg_path is %r, the VGG19 weights are '
                           'random (meant for tests; the loss is not perceptual)',
                           RANDOM_WEIGHTS)
        else:
            self.set_state_dict({k: paddle.to_tensor(v)
                                 for k, v in load_vgg19_state(vgg_path, num_layers).items()})
        for param in self.parameters():
            param.stop_gradient = True
        self.eval()

    def forward(self, x, indices):
        """Features of ``x`` (N, 3, H, W) at the layer ``indices`` (a set of ints)."""
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in indices:
                out[index] = x
        return out


@CRITERIONS.register()
class LocalVGGPerceptualLoss(nn.Layer):
    """Perceptual (VGG feature) loss with weights read from a local file; never downloads.

    Perceptual Losses for Real-Time Style Transfer and Super-Resolution
    (Johnson et al., ECCV 2016); as used by SRGAN (Ledig et al., CVPR 2017)
    and ESRGAN (Wang et al., ECCVW 2018, ``conv5_4`` before activation).

    ``loss = perceptual_weight * sum_k layer_weights[k] * D(phi_k(x), phi_k(gt))``
    with ``D`` the mean absolute (``l1``) or squared (``l2``) difference and
    ``phi_k`` VGG19 features. The extractor stops after the deepest requested
    layer and is frozen; the gradient flows to ``x`` only.

    Args:
        layer_weights (dict): VGG19 layer -> weight. Keys are names
            (``'relu1_2'``, ``'relu2_2'``, ``'conv5_4'``...) or indices of
            ``vgg19().features`` (``'34'`` = ``conv5_4``, as ppgan's configs).
        vgg_path (str): ``.pdparams`` file with VGG19 weights (keys
            ``features.N.weight``/``bias``; ``~`` is expanded). ``'random'``
            builds random weights instead, for tests only. Required: no
            default, no download.
        perceptual_weight (float): Overall weight, >= 0. Default: 1.0.
        criterion (str): ``'l1'`` or ``'l2'``. Default: 'l1'.
        use_input_norm (bool): Normalise inputs in [0, 1] with the ImageNet
            mean/std (what VGG19 was trained on). Default: True.

    Shapes:
        ``x``, ``gt``: (N, 3, H, W) in [0, 1]. Returns a scalar tensor.
    """

    def __init__(self,
                 layer_weights: Dict[Union[str, int], float],
                 vgg_path: str,
                 perceptual_weight: float = 1.0,
                 criterion: str = 'l1',
                 use_input_norm: bool = True):
        super().__init__()
        if not isinstance(layer_weights, Mapping) or not layer_weights:
            raise ValueError(f'LocalVGGPerceptualLoss: layer_weights must be a non-empty '
                             f"mapping such as {{'relu2_2': 1.0}}, got {layer_weights!r}")
        if not isinstance(vgg_path, (str, os.PathLike)) or not str(vgg_path):
            raise ValueError(f"LocalVGGPerceptualLoss: vgg_path must be a .pdparams path or "
                             f"'{RANDOM_WEIGHTS}', got {vgg_path!r}")
        if isinstance(perceptual_weight, bool) or not isinstance(perceptual_weight,
                                                                 (int, float)) \
                or perceptual_weight < 0:
            raise ValueError(f'LocalVGGPerceptualLoss: perceptual_weight must be a number '
                             f'>= 0, got {perceptual_weight!r}')
        if criterion not in _CRITERIA:
            raise ValueError(f'LocalVGGPerceptualLoss: criterion must be one of {_CRITERIA}, '
                             f'got {criterion!r}')
        names = vgg19_layer_names()
        self.layer_weights = {}
        for key, weight in layer_weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f'LocalVGGPerceptualLoss: layer_weights[{key!r}] must be a '
                                 f'number >= 0, got {weight!r}')
            index = _layer_index(key, names)
            self.layer_weights[index] = self.layer_weights.get(index, 0.0) + float(weight)
        if not any(self.layer_weights.values()):
            raise ValueError(f'LocalVGGPerceptualLoss: layer_weights needs at least one weight '
                             f'> 0, got {dict(layer_weights)!r}')
        self.perceptual_weight = float(perceptual_weight)
        self.criterion = criterion
        self.use_input_norm = use_input_norm
        self.vgg = VGG19Features(max(self.layer_weights) + 1, str(vgg_path))
        self.register_buffer('mean', paddle.to_tensor([0.485, 0.456, 0.406]).reshape(
            [1, 3, 1, 1]), persistable=False)
        self.register_buffer('std', paddle.to_tensor([0.229, 0.224, 0.225]).reshape(
            [1, 3, 1, 1]), persistable=False)

    def _features(self, x):
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        return self.vgg(x, set(self.layer_weights))

    def forward(self, x, gt):
        """Weighted perceptual distance between ``x`` and ``gt`` (both (N, 3, H, W))."""
        x_feats = self._features(x)
        with paddle.no_grad():
            gt_feats = self._features(gt)
        distance = F.l1_loss if self.criterion == 'l1' else F.mse_loss
        terms = [weight * distance(x_feats[index], gt_feats[index])
                 for index, weight in self.layer_weights.items() if weight > 0]
        return paddle.add_n(terms) * self.perceptual_weight
