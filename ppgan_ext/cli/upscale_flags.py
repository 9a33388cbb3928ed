"""The ``--upscale`` flags of ``paddlegan stylize``: stylize at a working size, then super-resolve.

    paddlegan stylize --content photo.jpg --style starry.png --load LAPSTYLE.pdparams \
        --upscale inference_model/stylized_sr_x4 --work-size 512 --output stylized/

``--upscale`` takes an exported SR model folder, a weight file together
with ``--upscale-config``, or the name of a pretrained SR model
(``paddlegan list --models``; fetched and exported once). The stylized
image (at ``--work-size``, or at the content's own size) is super-resolved
tile by tile like ``paddlegan infer --tile``, so the PNG written is
``scale`` times the working size. A video ``--content`` maps the same flags
to :class:`ppgan_ext.apps.video.StylizeUpscale` (:func:`video_upscale`).
"""
import argparse
from typing import TYPE_CHECKING, Optional

from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE
from ..upscale import Stylizer, load_upscaler, upscale_stylizer
from ..flags.runtime import add_runtime_arguments

if TYPE_CHECKING:
    from ..apps.video import StylizeUpscale


def add_upscale_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--upscale``, ``--upscale-config``, ``--upscale-tile(-overlap)``, ``--work-size``."""
    group = parser.add_argument_group('upscaling the stylized result')
    group.add_argument('--upscale', default=None, metavar='SR_MODEL',
                       help='super-resolve the stylized image with this SR model: an exported '
                            'folder (`paddlegan export`), a weight file with --upscale-config, '
                            'or a named SR model (`paddlegan list --models`)')
    group.add_argument('--upscale-config', default=None, metavar='CONFIG',
                       help='training config of the --upscale weight file')
    group.add_argument('--upscale-tile', type=int, default=DEFAULT_TILE, metavar='N',
                       help=f'tile side of the upscaler in input pixels (default: '
                            f'{DEFAULT_TILE}; 0: whole image)')
    group.add_argument('--upscale-tile-overlap', type=int, default=DEFAULT_OVERLAP, metavar='M',
                       help=f'overlap of the upscaler tiles (default: {DEFAULT_OVERLAP})')
    add_runtime_arguments(group, 'an exported --upscale folder', prefix='upscale-',
                          dygraph=False)
    group.add_argument('--work-size', type=int, default=0, metavar='N',
                       help='with --upscale: shrink the content so its longer side is at '
                            'most N before stylizing (default: 0, its own size)')


def _check_without_upscale(args: argparse.Namespace) -> None:
    for flag, value, default in (('--upscale-config', args.upscale_config, None),
                                 ('--work-size', args.work_size, 0)):
        if value != default:
            raise ValueError(f"{flag} needs --upscale SR_MODEL")


def video_upscale(args: argparse.Namespace) -> Optional['StylizeUpscale']:
    """The upscale flags as the video spec's :class:`StylizeUpscale` (None without ``--upscale``).

    Raises:
        ValueError: an upscale flag given without ``--upscale``.
    """
    if args.upscale is None:
        _check_without_upscale(args)
        return None
    from ..apps.video import StylizeUpscale

    return StylizeUpscale(args.upscale, args.upscale_config, args.upscale_tile,
                          args.upscale_tile_overlap, args.upscale_backend,
                          args.upscale_precision, args.work_size)


def apply_upscale(args: argparse.Namespace, stylize: Stylizer, device: str) -> Stylizer:
    """``stylize`` itself without ``--upscale``; else stylize-then-upscale.

    Raises:
        ValueError: an upscale flag given without ``--upscale``, or bad values.
    """
    if args.upscale is None:
        _check_without_upscale(args)
        return stylize
    path = args.upscale
    if args.upscale_config is None:   # a folder, or the name of a pretrained SR model
        from ..apps.pretrained import resolve_named

        path = resolve_named(path, '--upscale', 'sr')
    upscaler = load_upscaler(path, args.upscale_config, device,
                             args.upscale_tile, args.upscale_tile_overlap,
                             backend=args.upscale_backend, precision=args.upscale_precision)
    return upscale_stylizer(stylize, upscaler, args.work_size)
