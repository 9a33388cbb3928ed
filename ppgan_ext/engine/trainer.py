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
  wrapped in ``paddle.DataParallel`` (which refuses them).
"""
import math
import os
import signal
import threading

from ppgan.engine.trainer import Trainer as PPGANTrainer

from ..utils import atomic_pickle


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf."""


def _to_numpy_state(state):
    return {k: (v.numpy() if hasattr(v, 'numpy') else v) for k, v in state.items()}


class Trainer(PPGANTrainer):
    """ppgan's Trainer, made safe to kill and to diverge. Same config, same files."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.last_saved_iter = 0
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
                    raise TrainingDiverged(
                        f"loss {term} is {value} at iteration {self.current_iter}; "
                        f"training stopped, the last checkpoint in {self.output_dir} "
                        f"is kept (lower the learning rate or check the data)")

        model.train_iter = checked_train_iter

    def _checkpoint_name(self, step: int, name: str) -> str:
        if self.by_epoch:
            return f'epoch_{step // self.iters_per_epoch}_{name}.pdparams'
        return f'iter_{step}_{name}.pdparams'

    def save(self, epoch, name='checkpoint', keep=1):
        """Write ``iter_<epoch>_<name>.pdparams`` atomically (ppgan's format)."""
        if self.local_rank != 0:
            return
        assert name in ('checkpoint', 'weight')
        state = {net_name: _to_numpy_state(net.state_dict())
                 for net_name, net in self.model.nets.items()}
        if name == 'checkpoint':
            state['epoch'] = epoch
            for opt_name, opt in self.model.optimizers.items():
                state[opt_name] = _to_numpy_state(opt.state_dict())
        atomic_pickle(state, os.path.join(self.output_dir, self._checkpoint_name(epoch, name)))
        self.last_saved_iter = epoch
        if name == 'checkpoint' and keep > 0:
            old = epoch - keep * self.weight_interval
            if old > 0:
                old_path = os.path.join(self.output_dir, self._checkpoint_name(old, name))
                if os.path.exists(old_path):
                    os.remove(old_path)

    def save_interrupted(self):
        """Checkpoint the last finished iteration (after Ctrl-C)."""
        done = self.current_iter - 1
        if done >= 1:
            if done != self.last_saved_iter:
                self.save(done)
            self.logger.info(f'Interrupted: saved checkpoint of iteration {done} '
                             f'in {self.output_dir}')
        return done
