"""LapStyle training for every pyramid level with one model class.

Paper: "Drafting and Revision: Laplacian Pyramid Network for Fast High-Quality
Artistic Style Transfer", Lin et al., CVPR 2021.

``stage: draft`` trains the drafting net at the crop size (128 in the paper).
``stage: revision`` with ``levels: K`` trains revision level K at
``128 * 2**K`` with the drafting net and revision levels ``1 .. K-1`` frozen
and loaded from the weight files named by ``draft_weights`` and
``revision_weights``, plus a patch discriminator.

Nets (``self.nets``, saved in every checkpoint): ``net_enc`` (VGG, frozen),
``net_dec`` (drafting net), ``net_rev``, ``net_rev_2``, ... (revision levels
1, 2, ...), ``netD`` (revision stage). These are the names ppgan's LapStyle
checkpoints use, so ppgan's LapStyle weights load too.

Export (``paddlegan export -c CONFIG --load WEIGHTS``): the whole pyramid of
the config's stage (draft + ``levels`` revision nets + pyramid ops) becomes
ONE Paddle Inference graph ``(content, style) -> stylized`` with dynamic
height and width (:mod:`ppgan_ext.deploy.exporters.lapstyle`);
``paddlegan stylize --model-dir`` runs it.
"""
import inspect
import logging
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn.functional as F

from ppgan.models.base_model import BaseModel
from ppgan.models.builder import MODELS
from ppgan.models.criterions.builder import build_criterion
from ppgan.models.discriminators.builder import build_discriminator
from ppgan.models.generators.builder import GENERATORS, build_generator
from ppgan.modules.init import init_weights
from ppgan.solver import build_optimizer

from ..metrics import style_loss_metric  # the module: registration may start inside it
from ..pyramid import check_semantics, min_train_side
from ..weight_files import (load_net_state, read_state_file,
                            resolve_weights_path, sub_state)
from .generators.lapstyle_blocks import unbiased_statistics
from .generators.lapstyle_encoder import FEATURE_NAMES
from .generators.lapstyle_pyramid import (LapStylePyramidNet, revision_net_name,
                                          semantics_of_checkpoint)

__all__ = ['LapStylePyramidModel']

logger = logging.getLogger(__name__)

STAGES = ('draft', 'revision')
GAN_MODES = ('vanilla', 'lsgan')
# Pyramid semantics of a new draft-stage training when the config names none (README,
# "Pyramid semantics: ppgan and exact", has the measurement behind it).
DEFAULT_TRAIN_SEMANTICS = 'ppgan'
_ALL_LAYERS = ('r11', 'r21', 'r31', 'r41', 'r51')
DEFAULT_NETS = {
    'encoder_generator': {'name': 'LapStyleVGGEncoder'},
    'draft_generator': {'name': 'LapStyleDraftNet'},
    'revision_generator': {'name': 'LapStyleRevisionNet'},
    'discriminator': {'name': 'LapStylePatchDiscriminator'},
}


def _check_layers(key: str, layers) -> tuple:
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)):
        raise ValueError(f"{key} must be a list of layer names from {list(_ALL_LAYERS)}, "
                         f"got {layers!r}")
    for name in layers:
        if name not in FEATURE_NAMES:
            raise ValueError(f"{key}: unknown layer {name!r}; allowed: {', '.join(_ALL_LAYERS)}")
    return tuple(layers)


@MODELS.register()
class LapStylePyramidModel(BaseModel):
    """Drafting or revision stage of LapStyle, with the paper's losses.

    Losses (weights are config fields; defaults are the paper's / ppgan's):
    content (``content_weight``, mean-variance-normalised feature MSE over
    ``content_layers``), style (``style_weight``, mean/std matching over
    ``style_layers``), relaxed EMD style loss (``emd_weight``, over
    ``emd_layers``), relative content (self-similarity) loss
    (``relt_weight``, over ``relt_layers``); draft stage only: identity losses
    (``identity1_weight`` on pixels, ``identity2_weight`` on features);
    revision stage only: adversarial loss (``gan_weight``) against a patch
    discriminator trained on the style image. The feature losses are
    :mod:`ppgan_ext.models.criterions.style_transfer_losses` (ppgan's
    LapStyle losses, fixed for Paddle 3 and flat features), built from
    CRITERIONS.

    Args:
        stage (str): ``'draft'`` or ``'revision'``. Default: 'draft'.
        semantics (str): Pyramid semantics (:mod:`ppgan_ext.pyramid`):
            ``'ppgan'`` (PaddleGAN's LapStyle: bilinear pyramid, unbiased
            statistics, N(0, 0.02) init of the trained generator; losses equal
            ppgan's ``LapStyleDraModel`` / ``LapStyleRevFirstModel`` /
            ``LapStyleRevSecondModel``) or ``'exact'`` (binomial exact-folding
            pyramid, population statistics, zero-initialised output convs).
            Empty: at stage draft ``DEFAULT_TRAIN_SEMANTICS``; at stage
            revision the semantics recorded in ``draft_weights`` (none
            recorded: ppgan). A value that contradicts the draft file is an
            error. Default: ''.
        levels (int): Revision level K trained at stage ``revision`` (K >= 1);
            0 at stage ``draft``. Default: 0.
        encoder_generator (dict): GENERATORS config of the VGG encoder.
            Default: ``{name: LapStyleVGGEncoder}`` (reads
            ``~/.cache/ppgan/vgg_normalised.pdparams``).
        draft_generator (dict): Drafting net config. Default:
            ``{name: LapStyleDraftNet}``.
        revision_generator (dict): Config of every revision net. Default:
            ``{name: LapStyleRevisionNet}``.
        discriminator (dict): DISCRIMINATORS config (revision stage).
            Default: ``{name: LapStylePatchDiscriminator}``.
        draft_weights (str): Revision stage: weight file (or glob pattern,
            newest match) holding ``net_dec``, e.g. the draft stage's
            ``iter_N_weight.pdparams``. When it also holds ``net_enc`` (ours
            and ppgan's do), that encoder, the one the draft was trained
            with, is used and the VGG file is not read. Default: ''.
        revision_weights (list[str]): Revision stage K: K-1 weight files (or
            patterns); entry k holds revision level k+1. Default: None (= []).
        content_layers (list[str]): Default: r11, r21, r31, r41, r51.
        style_layers (list[str]): Default: r11, r21, r31, r41, r51.
        emd_layers (list[str]): Default: r31, r41.
        relt_layers (list[str]): Default: r31, r41.
        content_weight (float): Default: 1.0.
        style_weight (float): Default: 3.0.
        emd_weight (float): Default: 10.0.
        relt_weight (float): Default: 16.0.
        identity1_weight (float): Default: 50.0.
        identity2_weight (float): Default: 1.0.
        gan_weight (float): Default: 1.0.
        gan_mode (str): ``'vanilla'`` (BCE on logits) or ``'lsgan'``.
            Default: 'vanilla'.
        max_eval_steps (int): Read by ppgan's Trainer (validation batches);
            unused here. Default: None.

    Data (``setup_input``): ``ci`` content and ``si`` style, (N, 3, S, S) in
    [0, 1], S the stage's crop size (``S >= max(32, 16 * 2**K)``), and
    ``ci_path``; :class:`LapStyleContentStyleDataset` provides them.
    """

    def __init__(self,
                 stage: str = 'draft',
                 levels: int = 0,
                 semantics: str = '',
                 encoder_generator: Optional[dict] = None,
                 draft_generator: Optional[dict] = None,
                 revision_generator: Optional[dict] = None,
                 discriminator: Optional[dict] = None,
                 draft_weights: str = '',
                 revision_weights: Optional[Sequence[str]] = None,
                 content_layers: Sequence[str] = _ALL_LAYERS,
                 style_layers: Sequence[str] = _ALL_LAYERS,
                 emd_layers: Sequence[str] = ('r31', 'r41'),
                 relt_layers: Sequence[str] = ('r31', 'r41'),
                 content_weight: float = 1.0,
                 style_weight: float = 3.0,
                 emd_weight: float = 10.0,
                 relt_weight: float = 16.0,
                 identity1_weight: float = 50.0,
                 identity2_weight: float = 1.0,
                 gan_weight: float = 1.0,
                 gan_mode: str = 'vanilla',
                 max_eval_steps: Optional[int] = None):
        super().__init__()
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
        if not isinstance(levels, int) or isinstance(levels, bool) or levels < 0:
            raise ValueError(f"levels must be an int >= 0, got {levels!r}")
        if stage == 'draft' and levels != 0:
            raise ValueError(f"levels must be 0 at stage draft (got {levels}); "
                             f"use stage: revision to train revision level {levels}")
        if stage == 'revision' and levels < 1:
            raise ValueError("levels must be >= 1 at stage revision (the level to train)")
        if gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode must be one of {', '.join(GAN_MODES)}; got {gan_mode!r}")
        self.weights = {}
        for key, value in (('content_weight', content_weight), ('style_weight', style_weight),
                           ('emd_weight', emd_weight), ('relt_weight', relt_weight),
                           ('identity1_weight', identity1_weight),
                           ('identity2_weight', identity2_weight), ('gan_weight', gan_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}")
            self.weights[key[:-len('_weight')]] = float(value)
        self.content_layers = _check_layers('content_layers', content_layers)
        self.style_layers = _check_layers('style_layers', style_layers)
        self.emd_layers = _check_layers('emd_layers', emd_layers)
        self.relt_layers = _check_layers('relt_layers', relt_layers)
        revision_weights = list(revision_weights or [])
        if stage == 'revision':
            if not draft_weights:
                raise ValueError("draft_weights is required at stage revision: the weight file "
                                 "of the trained drafting net (net_dec)")
            if len(revision_weights) != levels - 1:
                raise ValueError(f"revision_weights must list {levels - 1} weight file(s) "
                                 f"(revision levels 1..{levels - 1}) to train level {levels}; "
                                 f"got {len(revision_weights)}")
        self.stage = stage
        self.levels = levels
        self.gan_mode = gan_mode

        def net_config(key, value):
            cfg = dict(value if value is not None else DEFAULT_NETS[key])
            if 'name' not in cfg:
                raise ValueError(f"{key} needs a 'name'")
            return cfg

        if semantics:
            check_semantics(semantics, 'model.semantics')
        encoder_cfg = net_config('encoder_generator', encoder_generator)
        draft_state = None
        if stage == 'revision':
            draft_path = resolve_weights_path(draft_weights, 'model.draft_weights')
            draft_state = (draft_path, read_state_file(draft_path))
            recorded = semantics_of_checkpoint(draft_state[1], f"model.draft_weights: {draft_path}")
            if semantics and semantics != recorded:
                raise ValueError(f"model.semantics is {semantics!r} but model.draft_weights "
                                 f"{draft_path} was trained with {recorded!r}; every level of a "
                                 f"pyramid uses one semantics")
            semantics = recorded
            if isinstance(draft_state[1].get('net_enc'), dict):
                # the encoder the draft was trained with comes from its file: no VGG file read
                encoder_cfg['random_init'] = True
        self.semantics = semantics or DEFAULT_TRAIN_SEMANTICS
        self.nets['net_enc'] = build_generator(encoder_cfg)
        self.nets['net_dec'] = build_generator(self._with_semantics(
            'draft_generator', net_config('draft_generator', draft_generator)))
        self.rev_names: List[str] = [revision_net_name(k) for k in range(1, levels + 1)]
        for name in self.rev_names:
            self.nets[name] = build_generator(self._with_semantics(
                'revision_generator', net_config('revision_generator', revision_generator)))
        if stage == 'revision':
            self.nets['netD'] = build_discriminator(net_config('discriminator', discriminator))

        # exact: the generators initialise themselves (zero output conv); ppgan: the trained
        # generator gets ppgan's N(0, 0.02) as in ppgan's models. The discriminator: N(0, 0.02).
        if stage == 'draft':
            self.trainable = ['net_dec']
        else:
            self.trainable = [self.rev_names[-1], 'netD']
            init_weights(self.nets['netD'])
        if self.semantics == 'ppgan':
            init_weights(self.nets[self.trainable[0]])
        if stage == 'revision':
            path, state = draft_state
            self._load_state('net_dec', state, path, 'model.draft_weights')
            if isinstance(state.get('net_enc'), dict):
                self._load_state('net_enc', state, path, 'model.draft_weights')
            for k, pattern in enumerate(revision_weights):
                key = f'model.revision_weights[{k}]'
                path = resolve_weights_path(pattern, key)
                self._load_state(self.rev_names[k], read_state_file(path), path, key)
        self.frozen = [name for name in self.nets if name not in self.trainable]
        for name in self.frozen:
            for p in self.nets[name].parameters():
                p.stop_gradient = True

        unbiased = unbiased_statistics(self.semantics)
        self.criteria = {
            'content': build_criterion({'name': 'NormalizedContentLoss', 'unbiased': unbiased}),
            'style': build_criterion({'name': 'MeanStdStyleLoss', 'unbiased': unbiased}),
            'emd': build_criterion({'name': 'RelaxedEMDStyleLoss'}),
            'relt': build_criterion({'name': 'SelfSimilarityContentLoss'})}
        self.val_losses: Dict[str, float] = {}

    # ------------------------------------------------------------------ weights
    def _with_semantics(self, key: str, cfg: dict) -> dict:
        """``cfg`` with this model's ``semantics`` (a net config naming another is an error)."""
        try:
            accepts = 'semantics' in inspect.signature(GENERATORS.get(cfg['name'])).parameters
        except (KeyError, TypeError, ValueError):
            accepts = False
        given = cfg.get('semantics')
        if given is not None and given != self.semantics:
            raise ValueError(f"model.{key}.semantics is {given!r} but the model's is "
                             f"{self.semantics!r}; set model.semantics only")
        if accepts:
            cfg['semantics'] = self.semantics
        return cfg

    def _load_state(self, net_name: str, state: dict, path: str, key: str) -> None:
        """Load ``state[net_name]`` into ``self.nets[net_name]``, checking every shape."""
        sub = sub_state(state, net_name, path, key)
        load_net_state(self.nets[net_name], sub, f"{key}: {path}", net_name)
        logger.info(f'{net_name}: loaded from {path}')

    def inference_net(self) -> LapStylePyramidNet:
        """The whole pyramid as one Layer ``(content, style) -> stylized``, sharing these nets.

        Export with ``paddle.jit.to_static(net, input_spec=net.input_spec())``.
        """
        return LapStylePyramidNet.from_nets(self.nets['net_enc'], self.nets['net_dec'],
                                            [self.nets[n] for n in self.rev_names],
                                            semantics=self.semantics)

    # ---------------------------------------------------------------- training
    def setup_input(self, input: dict) -> None:
        self.ci = paddle.to_tensor(input['ci'])
        self.si = paddle.to_tensor(input['si'])
        self.image_paths = input.get('ci_path', [])
        need = min_train_side(self.levels)
        for key, t in (('ci', self.ci), ('si', self.si)):
            if min(t.shape[2:]) < need:
                raise ValueError(f"{key} images are {t.shape[2]}x{t.shape[3]}; stage "
                                 f"{self.stage} (levels {self.levels}) needs sides >= {need}")
        self.visual_items.clear()
        self.visual_items['content'] = self.ci
        self.visual_items['style'] = self.si

    def _encode(self, x: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        return dict(zip(FEATURE_NAMES, self.nets['net_enc'](x)))

    def forward(self) -> None:
        """Stylize ``ci`` with ``si`` at the stage's resolution.

        Runs :meth:`LapStylePyramidNet.stylize_levels`, the one definition of
        the pyramid forward (the lower levels are frozen, so only the trained
        level records gradients).
        """
        net = self.inference_net()
        outs = net.stylize_levels(self.ci, net.encode_style(self.si))
        if self.stage == 'revision':
            self.visual_items['draft'] = outs[0]
        self.stylized = outs[-1]
        self.visual_items['stylized'] = self.stylized

    def _gan_loss(self, logits: paddle.Tensor, real: bool) -> paddle.Tensor:
        target = paddle.full_like(logits, 1.0 if real else 0.0)
        if self.gan_mode == 'vanilla':
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)

    def _feature_losses(self, tF, cF, sF) -> Dict[str, paddle.Tensor]:
        c = self.criteria
        return {
            'loss_c': sum(c['content'](tF[n], cF[n]) for n in self.content_layers),
            'loss_s': sum(c['style'](tF[n], sF[n]) for n in self.style_layers),
            'loss_style_remd': sum(c['emd'](tF[n], sF[n]) for n in self.emd_layers),
            'loss_content_relt': sum(c['relt'](tF[n], cF[n]) for n in self.relt_layers),
        }

    def backward_G(self) -> paddle.Tensor:
        w = self.weights
        tF = self._encode(self.stylized)
        with paddle.no_grad():
            cF, sF = self._encode(self.ci), self._encode(self.si)
        losses = self._feature_losses(tF, cF, sF)
        total = (w['content'] * losses['loss_c'] + w['style'] * losses['loss_s']
                 + w['emd'] * losses['loss_style_remd']
                 + w['relt'] * losses['loss_content_relt'])
        if self.stage == 'draft':
            identity = self.nets['net_dec'](tuple(cF.values()), tuple(cF.values()))
            losses['l_identity1'] = F.mse_loss(identity, self.ci)
            iF = self._encode(identity)
            losses['l_identity2'] = sum(F.mse_loss(iF[n], cF[n]) for n in self.content_layers)
            total = (total + w['identity1'] * losses['l_identity1']
                     + w['identity2'] * losses['l_identity2'])
        else:
            losses['loss_gan_G'] = self._gan_loss(self.nets['netD'](self.stylized), True)
            total = total + w['gan'] * losses['loss_gan_G']
        total.backward()
        for name, value in losses.items():
            self.losses[name] = value.detach()
        self.losses['loss'] = total.detach()
        return total

    def backward_D(self) -> paddle.Tensor:
        netD = self.nets['netD']
        fake = self._gan_loss(netD(self.stylized.detach()), False)
        real = self._gan_loss(netD(self.si), True)
        loss = (fake + real) * 0.5
        loss.backward()
        self.losses['D_fake_loss'] = fake.detach()
        self.losses['D_real_loss'] = real.detach()
        return loss

    def _set_trainable(self, net_name: str, flag: bool) -> None:
        for p in self.nets[net_name].parameters():
            p.stop_gradient = not flag

    def train_iter(self, optimizers=None) -> None:
        """One step: the discriminator (revision stage), then the trained generator."""
        optimizers = optimizers or self.optimizers
        self.forward()
        if self.stage == 'revision':
            self._set_trainable('netD', True)
            optimizers['optimD'].clear_grad()
            self.backward_D()
            optimizers['optimD'].step()
            self._set_trainable('netD', False)
        optimizers['optimG'].clear_grad()
        self.backward_G()
        optimizers['optimG'].step()
        if self.stage == 'revision':
            self._set_trainable('netD', True)

    def setup_optimizers(self, lr, cfg) -> Dict[str, paddle.optimizer.Optimizer]:
        """Build ``optimG`` (and ``optimD`` at stage revision) from the ``optimizer`` config.

        ``net_names`` may be left out: ``optimG`` then trains this stage's
        generator (``net_dec`` or the top revision net) and ``optimD`` the
        discriminator. Listing a frozen net is an error, so a config cannot
        silently train a lower level.
        """
        if 'name' in cfg:
            raise ValueError("optimizer: LapStylePyramidModel needs named optimizers "
                             "optimG (and optimD at stage revision), e.g. "
                             "optimizer: {optimG: {name: Adam, beta1: 0.9}}")
        roles = {'optimG': [self.trainable[0]],
                 'optimD': ['netD'] if self.stage == 'revision' else []}
        for opt_name in cfg:
            if opt_name not in roles:
                raise ValueError(f"optimizer.{opt_name}: unknown optimizer; "
                                 f"LapStylePyramidModel uses optimG and optimD")
        for opt_name, default_nets in roles.items():
            if not default_nets:
                if opt_name in cfg:
                    logger.info(f'optimizer.{opt_name} is not used at stage {self.stage}')
                continue
            if opt_name not in cfg:
                raise ValueError(f"optimizer.{opt_name} is missing: stage {self.stage} "
                                 f"trains {', '.join(default_nets)}")
            opt_cfg = dict(cfg[opt_name])
            net_names = opt_cfg.pop('net_names', None) or default_nets
            for name in net_names:
                if name not in self.trainable:
                    state = 'frozen' if name in self.nets else 'not a net of this stage'
                    raise ValueError(f"optimizer.{opt_name}.net_names: {name!r} is {state} "
                                     f"(stage {self.stage}, levels {self.levels} trains "
                                     f"{', '.join(self.trainable)})")
            params = []
            for name in net_names:
                params += self.nets[name].parameters()
            self.optimizers[opt_name] = build_optimizer(opt_cfg, lr, params)
        return self.optimizers

    # -------------------------------------------------------------- validation
    def test_iter(self, metrics=None) -> None:
        """Stylize a validation batch, compute its content and style losses.

        Visuals: ``stylized`` and ``panel`` (content | style | stylized side
        by side; ``content`` and ``style`` separately if their sizes differ). ``StyleTransferLoss``
        metrics receive the losses; other metrics get (stylized, content).
        """
        self.eval()
        with paddle.no_grad():
            self.forward()
            tF, cF, sF = self._encode(self.stylized), self._encode(self.ci), self._encode(self.si)
            content = sum(self.criteria['content'](tF[n], cF[n]) for n in self.content_layers)
            style = sum(self.criteria['style'](tF[n], sF[n]) for n in self.style_layers)
        self.val_losses = {'content': float(content), 'style': float(style)}
        shown = paddle.clip(self.stylized, 0.0, 1.0)
        if self.ci.shape == self.si.shape == shown.shape:
            # one picture instead of three files per sample
            self.visual_items['panel'] = paddle.concat([self.ci, self.si, shown], axis=3)
            del self.visual_items['content'], self.visual_items['style']
        for metric in (metrics or {}).values():
            if isinstance(metric, style_loss_metric.StyleTransferLoss):
                metric.update(self.val_losses)
            else:
                metric.update(shown, self.ci)
        self.train()
