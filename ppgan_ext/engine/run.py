"""Train / evaluate from a config: the body of ``tools/main.py`` and ``paddlegan train``.

Takes PaddleGAN's flags (``-c``, ``-o key=value ...``, ``--resume``, ``--load``,
``--evaluate-only``, ``--no-cuda``, ``--seed``, ``-p``) and runs ppgan's training
loop through :class:`ppgan_ext.engine.trainer.Trainer`.
"""
import argparse
import os
import random
import time

import numpy as np
import paddle

from ..config import load_config, validate_config


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """PaddleGAN's ``tools/main.py`` flags."""
    parser.add_argument('-c', '--config-file', metavar='FILE', required=True,
                        help='config file path')
    parser.add_argument('--no-cuda', action='store_true', default=False,
                        help='run on CPU even if Paddle is compiled with CUDA')
    parser.add_argument('--resume', type=str, default=None, metavar='CKPT',
                        help='continue training from a *_checkpoint.pdparams file '
                             '(nets, optimizers, learning-rate schedule, iteration)')
    parser.add_argument('--load', type=str, default=None, metavar='WEIGHTS',
                        help='load net weights only (fine-tuning or evaluation)')
    parser.add_argument('--val-interval', type=int, default=1,
                        help='accepted for compatibility; use validate.interval')
    parser.add_argument('--evaluate-only', action='store_true', default=False,
                        help='evaluate on dataset.test and exit')
    parser.add_argument('-o', '--opt', nargs='+', default=None, metavar='KEY=VALUE',
                        help='override config entries, e.g. -o total_iters=100 '
                             'dataset.train.batch_size=8')
    parser.add_argument('-p', '--profiler_options', type=str, default=None,
                        help='Paddle profiler options "key1=value1;key2=value2"')
    parser.add_argument('--seed', type=int, default=None,
                        help='seed paddle, numpy and random')
    return parser


def _check_file(path: str, flag: str) -> None:
    if path and not os.path.isfile(path):
        raise FileNotFoundError(f"{flag}: file not found: {path}")


def setup(args, cfg) -> None:
    """ppgan's ``setup``, honouring ``--no-cuda`` and a seed of 0."""
    from ppgan.utils.logger import setup_logger

    cfg.is_train = not args.evaluate_only
    cfg.profiler_options = args.profiler_options or None
    cfg.timestamp = time.strftime('-%Y-%m-%d-%H-%M', time.localtime())
    cfg.output_dir = os.path.join(
        cfg.output_dir,
        os.path.splitext(os.path.basename(str(args.config_file)))[0] + cfg.timestamp)
    logger = setup_logger(cfg.output_dir)
    logger.info('Configs: {}'.format(cfg))

    use_gpu = paddle.is_compiled_with_cuda() and not args.no_cuda
    paddle.set_device('gpu' if use_gpu else 'cpu')
    if args.seed is not None:
        paddle.seed(args.seed)
        random.seed(args.seed)
        np.random.seed(args.seed)


def build_trainer(args):
    """Load and check the config, set up logging/device/seed, build the Trainer.

    ``--resume`` / ``--load`` are applied. Returns the Trainer (its ``cfg``
    holds the run's ``output_dir``).
    """
    from ..compat import harden_ppgan_image_io
    from .trainer import Trainer

    harden_ppgan_image_io()   # one-line errors from ppgan's own image datasets
    cfg = load_config(args.config_file, args.opt)
    validate_config(cfg, is_train=not args.evaluate_only, source=args.config_file)
    _check_file(args.resume, '--resume')
    _check_file(args.load, '--load')
    setup(args, cfg)

    trainer = Trainer(cfg)
    if args.resume:
        trainer.resume(args.resume)
        trainer.logger.info(f'Resumed from {args.resume} at iteration {trainer.current_iter}')
    elif args.load:
        trainer.load(args.load)
    return trainer


def run(args) -> int:
    """Train (or evaluate) as ``args`` say. Returns the process exit code."""
    trainer = build_trainer(args)
    if args.evaluate_only:
        trainer.test()
        return 0
    try:
        trainer.train()
    except KeyboardInterrupt:
        trainer.close()
        return 130
    trainer.close()
    return 0
