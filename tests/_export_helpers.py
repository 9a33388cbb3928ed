"""Helpers of the export / inference tests: tiny SR configs, ppgan weight files, images."""
import os
import subprocess
import sys
from typing import Dict, List, Optional

import cv2
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(**extra) -> Dict[str, str]:
    e = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    e.update(extra)
    return e


def sr_config(path: str, **generator) -> str:
    """A BaseSRModel config: a tiny TransposeSRResNet x4 changed by ``generator``'s keys,
    or, when ``generator`` has a ``name``, exactly that generator."""
    gen = {} if 'name' in generator else dict(name='TransposeSRResNet', num_feat=8,
                                              num_blocks=1, scale=4)
    gen.update(generator)
    cfg = {'output_dir': os.path.join(os.path.dirname(path), 'output_dir'),
           'min_max': '(0., 1.)',
           'model': {'name': 'BaseSRModel', 'generator': gen,
                     'pixel_criterion': {'name': 'L1Loss'}},
           'export_model': [{'name': 'generator', 'inputs_num': 1}]}
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)
    return path


def build_model(config: str):
    import ppgan_ext  # noqa: F401
    from ppgan.models.builder import build_model as ppgan_build

    from ppgan_ext.config import load_config

    return ppgan_build(load_config(config).model)


def save_weights(config: str, path: str, seed: int = 0, checkpoint: bool = False,
                 tame: bool = True) -> Dict[str, Dict[str, np.ndarray]]:
    """Random weights for the config's nets, saved as a ppgan weight (or checkpoint) pickle.

    BatchNorm running statistics are randomised so that train-mode and
    eval-mode outputs differ; ``tame`` shrinks the residual branches so the
    outputs stay near [0, 1] like a trained net's.
    """
    import paddle

    from ppgan_ext.utils import atomic_pickle

    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(config)
    state = {}
    for name, net in model.nets.items():
        sd = {}
        for key, value in net.state_dict().items():
            v = value.numpy()
            if key.endswith('_mean'):
                v = rng.normal(0.0, 0.1, v.shape).astype(v.dtype)
            elif key.endswith('_variance'):
                v = rng.uniform(0.5, 2.0, v.shape).astype(v.dtype)
            elif tame and key.endswith('.weight') and v.ndim == 4:
                v = v * 0.5
            sd[key] = v
        state[name] = sd
    payload = dict(state)
    if checkpoint:
        payload['epoch'] = 7
        payload['optim'] = {'LR_Scheduler': {'last_epoch': 7}}
    atomic_pickle(payload, path)
    return state


def export_tiny_sr(root: str, seed: int, parity_sizes=((9, 11),), **generator) -> str:
    """Write a tiny SR config and random weights under ``root``, export them; return the model dir."""
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model

    config = sr_config(os.path.join(root, 'sr.yaml'), **generator)
    weights = os.path.join(root, 'w.pdparams')
    save_weights(config, weights, seed=seed)
    model_dir = os.path.join(root, 'model')
    export_model(load_config(config), weights, model_dir, parity_sizes=list(parity_sizes))
    return model_dir


def dygraph_net(config: str, weights: Dict[str, Dict[str, np.ndarray]], net: str = 'generator'):
    model = build_model(config)
    layer = model.nets[net]
    layer.set_state_dict(weights[net])
    layer.eval()
    return layer


def dygraph_run(layer, x: np.ndarray) -> np.ndarray:
    import paddle

    with paddle.no_grad():
        return layer(paddle.to_tensor(x)).numpy()


def write_photo_pairs(root: str, photos: dict, names: List[str], size=(96, 128),
                      scale: int = 4) -> Dict[str, str]:
    """GT crops (BGR PNG) and their area-downscaled LQ under root/{gt,lq}."""
    gt_dir, lq_dir = os.path.join(root, 'gt'), os.path.join(root, 'lq')
    os.makedirs(gt_dir, exist_ok=True)
    os.makedirs(lq_dir, exist_ok=True)
    h, w = size
    for name in names:
        img = photos[name]
        top, left = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        gt = np.ascontiguousarray(img[top:top + h, left:left + w])
        lq = cv2.resize(gt, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(gt_dir, name + '.png'), gt)
        cv2.imwrite(os.path.join(lq_dir, name + '.png'), lq)
    return {'gt': gt_dir, 'lq': lq_dir}


def rgb_input(path: str) -> np.ndarray:
    """An 8-bit image file as (1, 3, H, W) float32 RGB in [0, 1], read independently."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)[None], np.float32) / 255.0


def to_png_pixels(out: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) float output -> uint8 (H, W, 3) BGR as a PNG would hold it."""
    img = np.clip(out[0].transpose(1, 2, 0), 0, 1) * 255.0
    return np.rint(img).astype(np.uint8)[:, :, ::-1]


def run_tool(args: List[str], timeout: int = 300, extra_env: Optional[dict] = None):
    return subprocess.run([sys.executable] + args, cwd=ROOT, env=env(**(extra_env or {})),
                          capture_output=True, text=True, timeout=timeout)


def error_lines(stderr: str) -> List[str]:
    """The ``error: ...`` lines of a command's stderr (there should be exactly one)."""
    assert 'Traceback' not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith('error:')]


def nets_only_model_class():
    """A minimal ppgan model class (nets only) for hand-built test models."""
    from ppgan.models.base_model import BaseModel

    class NetsOnly(BaseModel):
        def setup_input(self, input):
            pass

        def forward(self):
            pass

        def train_iter(self, optims=None):
            pass

    return NetsOnly
