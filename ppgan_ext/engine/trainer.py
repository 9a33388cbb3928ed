"""PaddleGAN's Trainer with safe checkpoints and divergence detection.

Behaviour is ppgan's :class:`ppgan.engine.trainer.Trainer` except:

* checkpoints and weight files are written atomically (temporary file, then
  rename), so a kill at any moment leaves the previous file intact;
* a NaN or Inf loss stops training with :class:`TrainingDiverged`, naming the
  iteration and the loss term, before anything non-finite is saved;
* Ctrl-C (SIGINT) stops at the next iteration boundary: the checkpoint then
  holds exactly the finished iterations, learning-rate schedule included, and
  :meth:`train` raises ``KeyboardInterrupt`` after writing it. A second Ctrl-C
  stops at once.
* in multi-process training, nets without trainable parameters are not
  wrapped in ``paddle.DataParallel`` (which refuses them);
* ``snapshot_config.keep_checkpoints`` (default 0: all) says how many of the
  newest ``*_checkpoint.pdparams`` are kept; weight files are all kept, as in
  ppgan; a checkpoint this run resumed from is never deleted;
* ``--resume`` / ``--load`` refuse a file whose parameters do not fit the
  model (missing, unexpected or mis-shaped), naming the first few, instead
  of Paddle's "Skip loading" warnings; ``load(partial=True)`` loads what fits.
  ``--load`` of a file without some net (a generator-only file for a GAN) skips
  that net with a warning, as ppgan does; ``--resume`` needs every net.
* in multi-process training, validation scores the test set as one process
  does (see :meth:`test`).
"""
import glob
import math
import os
import re
import signal
import threading
from typing import Dict, List

from ppgan.engine.trainer import Trainer as PPGANTrainer

from ..utils import atomic_pickle


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf."""


class WeightsMismatch(ValueError):
    """A weight file whose parameters do not fit the model's nets."""


_NAMED = 3   # parameters named in a mismatch message before "and N more"


def _shape(value) -> tuple:
    return tuple(int(d) for d in getattr(value, 'shape', ()))


def state_mismatches(model_state: Dict, file_state: Dict) -> Dict[str, List[str]]:
    """Compare a net's ``state_dict()`` with the one in a file.

    Returns:
        dict: ``missing`` (in the model, not the file), ``unexpected`` (in
        the file only) and ``shape`` (``'name (file 64x3x3x3, model 32x3x3x3)'``).
    """
    def dims(shape):
        return 'x'.join(map(str, shape)) or 'scalar'

    shape = [f'{k} (file {dims(_shape(file_state[k]))}, model {dims(_shape(v))})'
             for k, v in model_state.items()
             if k in file_state and _shape(file_state[k]) != _shape(v)]
    return {'missing': [k for k in model_state if k not in file_state],
            'unexpected': [k for k in file_state if k not in model_state],
            'shape': shape}


def _listing(names: List[str]) -> str:
    more = f', and {len(names) - _NAMED} more' if len(names) > _NAMED else ''
    return ', '.join(names[:_NAMED]) + more


def _to_numpy_state(state):
    return {k: (v.numpy() if hasattr(v, 'numpy') else v) for k, v in state.items()}


class Trainer(PPGANTrainer):
    """ppgan's Trainer, made safe to kill and to diverge. Same config, same files."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.last_saved_iter = 0
        self.last_checkpoint = None      # newest checkpoint file that exists
        self._protected = set()          # checkpoint files never deleted (resumed from)
        snapshot = cfg.get('snapshot_config') or {}
        self.keep_checkpoints = int(snapshot.get('keep_checkpoints', 0) or 0)
        self._stop_requested = False
        if cfg.is_train:
            if self.iters_per_epoch == 0:
                batch = cfg.dataset.train.get('batch_size', 1)
                raise ValueError(
                    f"dataset.train has {len(self.train_dataloader.dataset)} samples, fewer "
                    f"than batch_size {batch} x {self.world_size} process(es): lower "
                    f"dataset.train.batch_size or add images")
            self._wrap_train_iter()

    def train(self):
        """ppgan's loop; the final iteration is always saved, even off-interval."""
        restore = None
        if threading.current_thread() is threading.main_thread():
            restore = signal.signal(signal.SIGINT, self._request_stop)
        try:
            super().train()
        except BaseException:
            if not self._stop_requested:
                raise
            self.save_interrupted()
            raise KeyboardInterrupt from None
        finally:
            if restore is not None:
                signal.signal(signal.SIGINT, restore)
        if self.last_saved_iter != self.total_iters:
            self.save(self.total_iters, 'weight', keep=-1)
            self.save(self.total_iters)

    def _request_stop(self, signum, frame):
        self.logger.info('Ctrl-C: stopping after the current iteration '
                         '(press again to stop at once)')
        self._stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def distributed_data_parallel(self):
        """ppgan's, except that nets with nothing to train stay unwrapped.

        ``paddle.DataParallel`` refuses a net whose parameters are all frozen
        (a VGG loss network, the lower levels of a LapStyle pyramid), which
        stops ppgan's multi-process training of such models at start-up.
        """
        import paddle

        paddle.distributed.init_parallel_env()
        find_unused = self.cfg.get('find_unused_parameters', False)
        for name, net in self.model.nets.items():
            if any(not p.stop_gradient for p in net.parameters()):
                self.model.nets[name] = paddle.DataParallel(
                    net, find_unused_parameters=find_unused)

    def test(self):
        """ppgan's validation; in a multi-process run, every process scores the whole test set.

        ppgan shards the test set with a ``DistributedBatchSampler``, which pads it to a
        multiple of the process count: with 3 images and 2 processes one image is scored
        twice in PSNR/SSIM/LPIPS (whose ``accumulate`` gathers every process's scores), and
        FID, which gathers nothing, is each process's half. Scoring the whole set on every
        process gives the one-process figure for both: the gathered lists are identical
        copies, so their mean is the one-process mean. Only rank 0 writes images.
        """
        if self.world_size <= 1:
            return super().test()
        if not hasattr(self, 'test_dataloader'):
            from ppgan.datasets.builder import build_dataloader

            self.test_dataloader = build_dataloader(self.cfg.dataset.test, is_train=False,
                                                    distributed=False)
        save_img, world_size = self.is_save_img, self.world_size
        self.is_save_img = save_img and self.local_rank == 0
        self.world_size = 1   # ppgan's "Test iter: [i/n]" counts every process's share
        try:
            super().test()
        finally:
            self.is_save_img, self.world_size = save_img, world_size

    def _wrap_train_iter(self):
        model = self.model
        train_iter = model.train_iter

        def checked_train_iter(optims=None):
            if self._stop_requested:
                raise KeyboardInterrupt
            train_iter(optims)
            for term, value in model.get_current_losses().items():
                value = float(value)
                if not math.isfinite(value):
                    if self.last_checkpoint:
                        kept = f"the newest checkpoint is {self.last_checkpoint}"
                    else:
                        kept = ("no checkpoint was saved (the first is due at iteration "
                                f"{self.weight_interval})")
                    raise TrainingDiverged(
                        f"loss {term} is {value} at iteration {self.current_iter}; "
                        f"training stopped, {kept} (lower the learning rate or check "
                        f"the data)")

        model.train_iter = checked_train_iter

    def _checkpoint_name(self, step: int, name: str) -> str:
        if self.by_epoch:
            return f'epoch_{step // self.iters_per_epoch}_{name}.pdparams'
        return f'iter_{step}_{name}.pdparams'

    def save(self, epoch, name='checkpoint', keep=1):
        """Write ``iter_<epoch>_<name>.pdparams`` atomically (ppgan's format).

        ``keep`` is ppgan's argument and is ignored: how many checkpoints are
        kept is ``snapshot_config.keep_checkpoints``.
        """
        if self.local_rank != 0:
            return
        assert name in ('checkpoint', 'weight')
        state = {net_name: _to_numpy_state(net.state_dict())
                 for net_name, net in self.model.nets.items()}
        if name == 'checkpoint':
            state['epoch'] = epoch
            for opt_name, opt in self.model.optimizers.items():
                state[opt_name] = _to_numpy_state(opt.state_dict())
        path = os.path.join(self.output_dir, self._checkpoint_name(epoch, name))
        atomic_pickle(state, path)
        self.last_saved_iter = epoch
        if name == 'checkpoint':
            self.last_checkpoint = path
            self._prune_checkpoints()

    def _prune_checkpoints(self) -> None:
        """Delete all but the newest ``keep_checkpoints`` checkpoints of this run's folder."""
        if self.keep_checkpoints <= 0:
            return
        pattern = re.compile(r'(?:iter|epoch)_(\d+)_checkpoint\.pdparams$')
        found = []
        for path in glob.glob(os.path.join(self.output_dir, '*_checkpoint.pdparams')):
            match = pattern.search(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        for _, path in sorted(found)[:-self.keep_checkpoints]:
            if os.path.realpath(path) not in self._protected:
                os.remove(path)

    def _checked_state(self, path: str, state: Dict, partial: bool, flag: str) -> Dict:
        """What of ``state`` to load into each net; :class:`WeightsMismatch` unless it fits."""
        nets = self.model.nets
        absent = [n for n in nets if n not in state]
        if len(absent) == len(nets) or (absent and flag == '--resume'):
            present = ', '.join(repr(k) for k in state if isinstance(state[k], dict)) or 'none'
            raise WeightsMismatch(
                f"{flag} {path}: no parameters for net(s) {', '.join(map(repr, absent))} of "
                f"model {self.cfg.model.name} (the file has {present})")
        for net_name in absent:   # e.g. a GAN fine-tuned from a generator-only weight file
            self.logger.warning(f'Can not find state dict of net {net_name}. Skip load '
                                f'pretrained weight for net {net_name}')
        fitted = {}
        for net_name, net in nets.items():
            if net_name not in state:
                continue
            own = net.state_dict()
            bad = state_mismatches(own, state[net_name])
            problems = [f"{len(bad[k])} {what}: {_listing(bad[k])}"
                        for k, what in (('shape', 'of another shape'),
                                        ('missing', 'missing from the file'),
                                        ('unexpected', 'not in the model'))
                        if bad[k]]
            if problems and not partial:
                raise WeightsMismatch(
                    f"{flag} {path}: net {net_name!r} does not fit the config's "
                    f"{self.cfg.model.get(net_name, {}).get('name', net_name)}: "
                    f"{'; '.join(problems)} (check the config's net sizes, or load what "
                    f"fits with --allow-partial-load)")
            if problems:
                self.logger.warning(f'{net_name}: partial load; {"; ".join(problems)}')
            fitted[net_name] = {k: v for k, v in state[net_name].items()
                                if k in own and _shape(v) == _shape(own[k])}
        return fitted

    def load(self, weight_path, partial: bool = False):
        """ppgan's ``load`` (net weights only), refusing weights that do not fit the nets.

        Reads ppgan weight files and the model registry's converted ``.npz``
        archives (:func:`ppgan_ext.weight_files.read_state_file`).
        """
        from ..weight_files import read_state_file

        self.load_state(read_state_file(weight_path, key='--load'), weight_path, partial)

    def load_state(self, state: Dict, source: str, partial: bool = False, flag: str = '--load'):
        """Load ``{net name: state dict}`` into the model's nets (checked as :meth:`load`)."""
        fitted = self._checked_state(source, state, partial, flag)
        for net_name, net_state in fitted.items():
            self.model.nets[net_name].set_state_dict(net_state)
            self.logger.info(f'Loaded pretrained weight for net {net_name} from {source}')

    def resume(self, checkpoint_path):
        """ppgan's ``resume``, refusing a checkpoint that does not fit; it is never deleted."""
        from ppgan.utils.filesystem import load

        state = load(checkpoint_path)
        self._checked_state(checkpoint_path, state, False, '--resume')
        self._protected.add(os.path.realpath(checkpoint_path))
        super().resume(checkpoint_path)
        self.last_checkpoint = checkpoint_path
        self.last_saved_iter = self.current_iter - 1

    def save_interrupted(self):
        """Checkpoint the last finished iteration (after Ctrl-C)."""
        done = self.current_iter - 1
        if done >= 1:
            if done != self.last_saved_iter:
                self.save(done)
            self.logger.info(f'Interrupted: saved checkpoint of iteration {done} '
                             f'in {self.output_dir}')
        return done
