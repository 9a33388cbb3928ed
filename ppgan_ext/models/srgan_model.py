"""Adversarial super-resolution: pixel + perceptual + GAN loss on any SR generator."""
from typing import Optional

import paddle
from ppgan.models.builder import MODELS
from ppgan.models.criterions.builder import CRITERIONS
from ppgan.models.discriminators.builder import build_discriminator
from ppgan.models.sr_model import BaseSRModel
from ppgan.solver import build_optimizer

_GAN_MODES = ('vanilla', 'lsgan')


def _build_criterion(cfg: dict, key: str):
    """Build a CRITERIONS entry; its own ValueError/FileNotFoundError pass through."""
    if not isinstance(cfg, dict) or 'name' not in cfg:
        raise ValueError(f"model.{key}: expected a mapping with a 'name', got {cfg!r}")
    kwargs = dict(cfg)
    name = kwargs.pop('name')
    if name not in CRITERIONS._obj_map:
        raise ValueError(f'model.{key}.name: unknown CRITERIONS name {name!r}')
    return CRITERIONS.get(name)(**kwargs)


def _perceptual_is_off(cfg: Optional[dict]) -> bool:
    """Absent, null, or every weight it has (perceptual, and style if given) is 0."""
    if not cfg:
        return True
    weights = [cfg.get('perceptual_weight', 1.0)]
    if 'style_weight' in cfg:
        weights.append(cfg['style_weight'])
    return all(isinstance(w, (int, float)) and w == 0 for w in weights)


@MODELS.register()
class SRGANModel(BaseSRModel):
    """Super-resolution generator trained with pixel, perceptual and adversarial losses.

    SRGAN (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
    Generative Adversarial Network", CVPR 2017) and ESRGAN (Wang et al.,
    ECCVW 2018, relativistic average discriminator). Generator loss::

        pixel_criterion(out, gt) + perceptual_criterion(out, gt) + gan_criterion(D(out))

    each term weighted by its own config field (``loss_weight``,
    ``perceptual_weight``, ``loss_weight`` of ``GANLoss``). The discriminator
    minimises the mean of its real and fake GAN losses. Validation (PSNR/SSIM)
    is ``BaseSRModel``'s.

    Schedule, by training iteration (1-based): iterations ``1..gan_start_iter``
    train the generator alone without the GAN term; the next
    ``disc_init_iters`` train only the discriminator (generator frozen, in eval
    mode) so that it is informative before it steers a pretrained generator;
    then both are trained every iteration, the generator first. The iteration
    is read from the learning-rate scheduler, which ppgan's Trainer steps once
    per iteration and restores on ``--resume``.

    Optimizers are found by their ``net_names``: ppgan's multi-optimizer config
    with one optimizer (any name) over ``[generator]`` and one over
    ``[discriminator]``.

    Args:
        generator (dict): GENERATORS config, maps ``lq`` (N, C, h, w) to
            (N, C, H, W) in [0, 1].
        discriminator (dict): DISCRIMINATORS config returning logits.
        pixel_criterion (dict): CRITERIONS config, e.g.
            ``{name: L1Loss, loss_weight: 0.01}``.
        gan_criterion (dict): ppgan's ``GANLoss`` config, ``gan_mode``
            ``'vanilla'`` or ``'lsgan'``, ``loss_weight`` > 0 (the weight of
            the generator's adversarial term).
        perceptual_criterion (dict, optional): e.g. ``LocalVGGPerceptualLoss``;
            absent, null or ``perceptual_weight: 0`` switches the term off and
            builds no VGG. Default: None.
        relativistic (bool): Relativistic average GAN (ESRGAN): logits are
            compared with the mean logit of the other kind. Default: False.
        gan_start_iter (int): Generator-only iterations before adversarial
            training. Default: 0.
        disc_init_iters (int): Discriminator-only iterations when adversarial
            training starts. Default: 0.
        use_init_weight (bool): ``BaseSRModel``'s generator initialisation.
            Default: False.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 pixel_criterion: dict,
                 gan_criterion: dict,
                 perceptual_criterion: Optional[dict] = None,
                 relativistic: bool = False,
                 gan_start_iter: int = 0,
                 disc_init_iters: int = 0,
                 use_init_weight: bool = False):
        for key, value in (('gan_start_iter', gan_start_iter),
                           ('disc_init_iters', disc_init_iters)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f'model.{key}: must be an int >= 0, got {value!r}')
        if not isinstance(relativistic, bool):
            raise ValueError(f'model.relativistic: must be True or False, got {relativistic!r}')
        if not isinstance(pixel_criterion, dict):
            raise ValueError(f"model.pixel_criterion: expected a mapping such as "
                             f"{{name: L1Loss}}, got {pixel_criterion!r}")
        if not isinstance(gan_criterion, dict):
            raise ValueError(f"model.gan_criterion: expected a mapping such as "
                             f"{{name: GANLoss, gan_mode: vanilla}}, got {gan_criterion!r}")
        if gan_criterion.get('name') == 'GANLoss':
            mode = gan_criterion.get('gan_mode')
            if mode not in _GAN_MODES:
                raise ValueError(f'model.gan_criterion.gan_mode: must be one of {_GAN_MODES}, '
                                 f'got {mode!r}')
            weight = gan_criterion.get('loss_weight', 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
                raise ValueError(f'model.gan_criterion.loss_weight: must be > 0, got '
                                 f'{weight!r} (for training without the GAN term use '
                                 f'BaseSRModel)')
        super().__init__(generator, pixel_criterion, use_init_weight)
        self.nets['discriminator'] = build_discriminator(discriminator)
        self.gan_criterion = _build_criterion(gan_criterion, 'gan_criterion')
        self.perceptual_criterion = None
        if not _perceptual_is_off(perceptual_criterion):
            self.perceptual_criterion = _build_criterion(perceptual_criterion,
                                                         'perceptual_criterion')
        self.relativistic = relativistic
        self.gan_start_iter = gan_start_iter
        self.disc_init_iters = disc_init_iters
        self._optim_for = {}
        self._iters_done = 0

    # ------------------------------------------------------------ set-up
    def setup_optimizers(self, lr, cfg):
        """One optimizer per net, found by ``net_names`` (names are free)."""
        example = ('e.g. optimizer: {optimG: {name: Adam, net_names: [generator]}, '
                   'optimD: {name: Adam, net_names: [discriminator]}}')
        if not isinstance(cfg, dict) or 'name' in cfg:
            raise ValueError(f'optimizer: SRGANModel needs one optimizer for the generator '
                             f'and one for the discriminator, {example}')
        owners = {}
        for opt_name, opt_cfg in cfg.items():
            opt_cfg = dict(opt_cfg)
            net_names = opt_cfg.pop('net_names', None)
            if not isinstance(net_names, (list, tuple)) or not net_names:
                raise ValueError(f'optimizer.{opt_name}.net_names: expected a list of nets '
                                 f'from {list(self.nets)}, got {net_names!r}')
            parameters = []
            for net_name in net_names:
                if net_name not in self.nets:
                    raise ValueError(f'optimizer.{opt_name}.net_names: unknown net '
                                     f'{net_name!r}; nets are {list(self.nets)}')
                if net_name in owners:
                    raise ValueError(f'optimizer.{opt_name}.net_names: {net_name!r} is '
                                     f'already updated by optimizer.{owners[net_name]}')
                owners[net_name] = opt_name
                parameters += self.nets[net_name].parameters()
            self.optimizers[opt_name] = build_optimizer(opt_cfg, lr, parameters)
        for net_name in ('generator', 'discriminator'):
            if net_name not in owners:
                raise ValueError(f'optimizer: no optimizer updates the {net_name}; {example}')
        if owners['generator'] == owners['discriminator']:
            raise ValueError(f'optimizer.{owners["generator"]}: the generator and the '
                             f'discriminator need separate optimizers; {example}')
        self._optim_for = owners
        return self.optimizers

    def current_iter(self) -> int:
        """The training iteration being run (1-based)."""
        scheduler = getattr(self, 'lr_scheduler', None)
        if isinstance(scheduler, paddle.optimizer.lr.LRScheduler):
            return int(scheduler.last_epoch) + 1
        return self._iters_done + 1

    # ------------------------------------------------------------ losses
    def _gan(self, pred, target_is_real: bool, is_disc: bool):
        crit = self.gan_criterion
        # ppgan's GANLoss caches its target tensor at the first shape it sees.
        for attr in ('target_real_tensor', 'target_fake_tensor'):
            cached = getattr(crit, attr, None)
            if cached is not None and list(cached.shape) != list(pred.shape):
                delattr(crit, attr)
        return crit(pred, target_is_real, is_disc=is_disc)

    def generator_losses(self, adversarial: bool) -> dict:
        """Run the generator on ``self.lq`` and return its loss terms (nothing is stepped).

        Sets ``self.output`` (N, C, H, W). The returned dict holds
        ``loss_pixel``, ``loss_perceptual`` / ``loss_style`` when a perceptual
        criterion is set, and with ``adversarial`` ``loss_gan``:
        ``gan(D(out), real)`` or, relativistic,
        ``(gan(D(gt) - mean D(out), fake) + gan(D(out) - mean D(gt), real)) / 2``,
        where ``gan`` is ``gan_criterion`` with its generator ``loss_weight``.
        The discriminator's parameters get no gradient from these terms.
        """
        self.output = self.nets['generator'](self.lq)
        self.visual_items['output'] = self.output
        losses = {'loss_pixel': self.pixel_criterion(self.output, self.gt)}
        if self.perceptual_criterion is not None:
            result = self.perceptual_criterion(self.output, self.gt)
            if isinstance(result, (tuple, list)):  # ppgan's PerceptualLoss: (percep, style)
                names = ('loss_perceptual', 'loss_style')
                result = [(n, r) for n, r in zip(names, result) if r is not None]
            else:
                result = [('loss_perceptual', result)]
            losses.update(result)
        if adversarial:
            disc = self.nets['discriminator']
            self.set_requires_grad(disc, False)
            fake_pred = disc(self.output)
            if self.relativistic:
                with paddle.no_grad():
                    real_pred = disc(self.gt)
                loss_gan = (self._gan(real_pred - fake_pred.mean(), False, False) +
                            self._gan(fake_pred - real_pred.mean(), True, False)) / 2
            else:
                loss_gan = self._gan(fake_pred, True, False)
            self.set_requires_grad(disc, True)
            losses['loss_gan'] = loss_gan
        return losses

    def discriminator_losses(self) -> dict:
        """The discriminator's loss terms on ``self.gt`` and the detached ``self.output``.

        ``loss_d_real = gan(D(gt), real)`` and ``loss_d_fake = gan(D(out), fake)``;
        relativistic: ``gan(D(gt) - mean D(out), real)`` and
        ``gan(D(out) - mean D(gt), fake)`` (the other kind's mean detached). Also
        ``d_real`` / ``d_fake``, the mean logits (detached, for the log).
        """
        disc = self.nets['discriminator']
        real_pred = disc(self.gt)
        fake_pred = disc(self.output.detach())
        if self.relativistic:
            loss_real = self._gan(real_pred - fake_pred.detach().mean(), True, True)
            loss_fake = self._gan(fake_pred - real_pred.detach().mean(), False, True)
        else:
            loss_real = self._gan(real_pred, True, True)
            loss_fake = self._gan(fake_pred, False, True)
        return {'loss_d_real': loss_real, 'loss_d_fake': loss_fake,
                'd_real': real_pred.detach().mean(), 'd_fake': fake_pred.detach().mean()}

    def _generator_step(self, optim, adversarial: bool) -> None:
        optim.clear_grad()
        losses = self.generator_losses(adversarial)
        self.losses.update(losses)
        paddle.add_n(list(losses.values())).backward()
        optim.step()

    def _discriminator_step(self, optim) -> None:
        optim.clear_grad()
        losses = self.discriminator_losses()
        ((losses['loss_d_real'] + losses['loss_d_fake']) / 2).backward()
        optim.step()
        self.losses.update(losses)

    def train_iter(self, optims=None):
        """One iteration: generator step, then discriminator step, per the schedule."""
        if not self._optim_for:
            raise ValueError('SRGANModel: optimizers are not set up; call setup_optimizers '
                             'with the optimizer config first')
        optims = self.optimizers if optims is None else optims
        it = self.current_iter()
        adversarial = it > self.gan_start_iter
        train_g = not adversarial or it > self.gan_start_iter + self.disc_init_iters
        self.losses.clear()
        if train_g:
            self._generator_step(optims[self._optim_for['generator']], adversarial)
        else:
            generator = self.nets['generator']
            generator.eval()
            with paddle.no_grad():
                self.output = generator(self.lq)
            generator.train()
            self.visual_items['output'] = self.output
        if adversarial:
            self._discriminator_step(optims[self._optim_for['discriminator']])
        self._iters_done += 1
