"""Train / evaluate from a config: the body of ``tools/main.py`` and ``paddlegan train``.

Takes every flag of PaddleGAN's ``tools/main.py`` (``-c``, ``-o key=value ...``,
``--resume``, ``--load``, ``--evaluate-only``, ``--val-interval``, ``--no-cuda``,
``--seed``, ``-p``, and ``--source_path`` / ``--reference_dir`` /
``--model_path``, which PaddleGAN parses there for its predictors and its
training never reads) and runs ppgan's training loop through
:class:`ppgan_ext.engine.trainer.Trainer`.

Each run writes into its own new folder: ``<output_dir>/<config name>-<date-time>``
(to the second), with ``-2``, ``-3``, ... appended if that exists already.
"""
import argparse
import hashlib
import os
import random
import tempfile
import time
import warnings
from typing import Sequence

import numpy as np


def add_arguments(parser: argparse.ArgumentParser,
                  no_cuda: bool = True) -> argparse.ArgumentParser:
    """PaddleGAN's ``tools/main.py`` flags.

    Args:
        parser (argparse.ArgumentParser): Gets the flags.
        no_cuda (bool): Add PaddleGAN's ``--no-cuda``; False when the caller adds its own
            device flag (``paddlegan train``'s ``--device``). Default: True.
    """
    parser.add_argument('-c', '--config-file', metavar='FILE', required=True,
                        help='config file path')
    if no_cuda:
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
    parser.add_argument('--source_path', default='', metavar='FILE',
                        help="accepted as PaddleGAN's tools/main.py does; training does not "
                             "use it (PaddleGAN's predictors do)")
    parser.add_argument('--reference_dir', default='',
                        help='accepted as PaddleGAN does; training does not use it')
    parser.add_argument('--model_path', default=None,
                        help='accepted as PaddleGAN does; training does not use it')
    parser.add_argument('--allow-partial-load', action='store_true', default=False,
                        help='with --load: load the parameters that fit and leave the others '
                             'as initialised (else missing or mis-shaped ones are an error)')
    return parser


def _check_file(path: str, flag: str) -> None:
    if path and not os.path.isfile(path):
        raise FileNotFoundError(f"{flag}: file not found: {path}")


def _start_time(pid: int) -> float:
    """When process ``pid`` started (Linux /proc), else now."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            ticks = int(f.read().rsplit(')', 1)[1].split()[19])
        with open('/proc/stat') as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith('btime'))
        return boot + ticks / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def run_folder(output_dir: str, config_file: str) -> str:
    """Create and return this run's own folder under ``output_dir``.

    ``<config name>-%Y-%m-%d-%H-%M-%S``; when that exists, ``-2``, ``-3``, ...
    is appended (the folder is created exclusively, so two runs started in
    the same second still get two folders). Under ``paddle.distributed.launch``
    the ranks of one machine must agree on one folder: the time is the
    launcher's start time, the machine's first rank picks the folder and the
    others read its name from a note in the temporary folder named after the
    job (its endpoints and launcher). On several machines each machine's
    launcher makes its own folder; global rank 0's holds the checkpoints.
    """
    stem = os.path.splitext(os.path.basename(str(config_file)))[0]
    world = int(os.environ.get('PADDLE_TRAINERS_NUM', '1') or 1)
    rank = int(os.environ.get('PADDLE_RANK_IN_NODE')
               or os.environ.get('PADDLE_LOCAL_RANK')
               or os.environ.get('PADDLE_TRAINER_ID') or 0)
    started = _start_time(os.getppid()) if world > 1 else time.time()
    base = os.path.join(output_dir, stem + time.strftime('-%Y-%m-%d-%H-%M-%S',
                                                         time.localtime(started)))
    note = None
    if world > 1:
        job = os.environ.get('PADDLE_TRAINER_ENDPOINTS', '') + f'|{os.getppid()}|{base}'
        note = os.path.join(tempfile.gettempdir(),
                            'ppgan-ext-run-' + hashlib.sha1(job.encode()).hexdigest()[:16])
        if rank > 0:
            for _ in range(600):
                if os.path.exists(note):
                    with open(note) as f:
                        return f.read()
                time.sleep(0.1)
            raise RuntimeError(f'local rank {rank}: local rank 0 did not create the run '
                               f'folder (waited 60 s for {note})')
    os.makedirs(output_dir, exist_ok=True)
    folder, n = base, 1
    while True:
        try:
            os.mkdir(folder)
            break
        except FileExistsError:
            n += 1
            folder = f'{base}-{n}'
    if note is not None:
        from ..utils import atomic_write

        def write(tmp):
            with open(tmp, 'w') as f:
                f.write(folder)

        atomic_write(note, write)
    return folder


def _log_to(output_dir: str):
    """ppgan's logger, writing to ``output_dir/log.txt``.

    ppgan sets its logger up once per process, so a second run in the same
    process (``train_config`` twice) would keep logging into the first run's
    file; its handlers are replaced instead.
    """
    import logging

    from ppgan.utils import logger as ppgan_logger

    if 'ppgan' in ppgan_logger.logger_initialized:
        log = logging.getLogger('ppgan')
        for handler in list(log.handlers):
            log.removeHandler(handler)
            if isinstance(handler, logging.FileHandler):
                handler.close()
        ppgan_logger.logger_initialized.remove('ppgan')
    return ppgan_logger.setup_logger(output_dir)


def setup(args, cfg) -> None:
    """ppgan's ``setup``: a new folder per run, ``--no-cuda`` and a seed of 0 honoured."""
    cfg.is_train = not args.evaluate_only
    cfg.profiler_options = args.profiler_options or None
    cfg.output_dir = run_folder(cfg.output_dir, args.config_file)
    cfg.timestamp = cfg.output_dir.rsplit(os.path.splitext(
        os.path.basename(str(args.config_file)))[0], 1)[-1]
    logger = _log_to(cfg.output_dir)
    logger.info('Configs: {}'.format(cfg))

    import paddle

    device = getattr(args, 'device', None) or ('cpu' if args.no_cuda else 'auto')
    use_gpu = paddle.is_compiled_with_cuda() if device == 'auto' else device == 'gpu'
    paddle.set_device('gpu' if use_gpu else 'cpu')
    if args.seed is not None:
        paddle.seed(args.seed)
        random.seed(args.seed)
        np.random.seed(args.seed)


def _world_size() -> int:
    return int(os.environ.get('PADDLE_TRAINERS_NUM', '1') or 1)


def _drop_if_unused(folder: str) -> bool:
    """Remove a run folder that holds nothing but its log (a run that failed before
    writing anything, or only evaluated); return whether it was removed.

    ppgan's log handlers are closed first. Under ``paddle.distributed.launch``
    the folder is shared by the ranks and left alone.
    """
    if _world_size() > 1 or not folder or not os.path.isdir(folder):
        return False
    for root, _, files in os.walk(folder):
        if any(name != 'log.txt' or root != folder for name in files):
            return False
    import logging
    import shutil

    for handler in list(logging.getLogger('ppgan').handlers):
        if isinstance(handler, logging.FileHandler) and \
                os.path.dirname(os.path.abspath(handler.baseFilename)) == \
                os.path.abspath(folder):
            logging.getLogger('ppgan').removeHandler(handler)
            handler.close()
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _finished_checkpoint(trainer, path: str) -> None:
    """Refuse ``--resume`` of a checkpoint that already holds ``total_iters`` iterations."""
    done = trainer.current_iter - 1
    if done >= trainer.total_iters:
        from ..config import ConfigError

        raise ConfigError(f'--resume: {path} is a finished run (iteration {done} of '
                          f'total_iters {trainer.total_iters}): nothing to train; give a '
                          f'larger total_iters with -o total_iters=N to train on')


def build_trainer(args):
    """Load and check the config, set up logging/device/seed, build the Trainer.

    ``--resume`` / ``--load`` are applied; without them, the weights of the
    registered model the config's ``pretrained`` key names
    (:mod:`ppgan_ext.engine.pretrained`). Returns the Trainer (its ``cfg``
    holds the run's ``output_dir``). If building fails, the run folder it
    created is removed again (it holds only the log).
    """
    from ..compat import drop_newer_config_keys, harden_ppgan_image_io, patch_ppgan
    from ..config import ConfigWarning, load_config, validate_config
    from .pretrained import check_pretrained, load_pretrained
    from .trainer import Trainer

    patch_ppgan()             # ppgan 2.1.0 on Paddle 3 / NumPy 2, offline weights
    harden_ppgan_image_io()   # one-line errors from ppgan's own image datasets
    cfg = load_config(args.config_file, args.opt)
    for key in drop_newer_config_keys(cfg):
        warnings.warn(f'{key}: a key of PaddleGAN releases newer than ppgan 2.1.0; ignored',
                      ConfigWarning)
    validate_config(cfg, is_train=not args.evaluate_only, source=args.config_file)
    check_pretrained(cfg)
    _check_file(args.resume, '--resume')
    _check_file(args.load, '--load')
    setup(args, cfg)

    try:
        trainer = Trainer(cfg)
        if args.resume:
            trainer.resume(args.resume)
            _finished_checkpoint(trainer, args.resume)
            trainer.logger.info(f'Resumed from {args.resume} at iteration '
                                f'{trainer.current_iter}')
        elif args.load:
            trainer.load(args.load, partial=getattr(args, 'allow_partial_load', False))
        elif cfg.get('pretrained'):
            load_pretrained(trainer, cfg, partial=getattr(args, 'allow_partial_load', False))
    except BaseException:
        _drop_if_unused(cfg.output_dir)
        raise
    return trainer


def train_config(config: str, overrides: Sequence[str] = (), seed: int = 0,
                 no_cuda: bool = True) -> str:
    """Train ``config`` (with ``-o`` style ``overrides``) to the end; the final weight file.

    The programmatic form of ``tools/main.py -c CONFIG -o ... --seed SEED``
    (used by ``tools/demo.py`` and the benchmarks).
    """
    args = argparse.Namespace(config_file=config, opt=list(overrides), resume=None, load=None,
                              evaluate_only=False, no_cuda=no_cuda, profiler_options=None,
                              seed=seed)
    trainer = build_trainer(args)
    trainer.train()
    trainer.close()
    return os.path.join(trainer.output_dir, f'iter_{trainer.total_iters}_weight.pdparams')


def run(args) -> int:
    """Train (or evaluate) as ``args`` say. Returns the process exit code.

    An evaluation, or a run that fails before it finished one iteration,
    leaves no run folder behind when the folder holds only its log (the
    metrics and the error were printed). The log of a run that trained is
    kept, also when it failed later (it shows the losses up to the failure).
    """
    trainer = build_trainer(args)
    first = trainer.current_iter
    try:
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
    finally:
        if args.evaluate_only or trainer.current_iter == first:
            _drop_if_unused(trainer.output_dir)
