"""``paddlegan serve``: a local web app to restore and stylize photos.

    paddlegan serve --sr-model inference_model/demo_x4 \
        --lapstyle output_dir/lapstyle_rev2-RUN/iter_30000_weight.pdparams \
        [--upscale-model inference_model/stylized_sr_x4] [--host 127.0.0.1 --port 8765]
    paddlegan serve --model realesrgan-x4plus --model magenta-arbitrary \
        [--model realesr-animevideov3-x2]

``--model NAME`` (repeatable) takes pretrained models by name: each goes to
the slot of its task (SR: ``--sr-model``, then ``--upscale-model``;
stylize: ``--lapstyle``).

then open the printed address in a browser. Restore runs the SR model folder
like ``paddlegan infer --tile``; stylize runs the LapStyle model (weights or
an exported folder) like ``paddlegan stylize``, optionally upscaled. It
listens on 127.0.0.1 unless ``--host`` says otherwise, writes only under
``--work-dir`` and loads nothing from other hosts. This module is the
command's parser and launcher (``paddlegan`` finds it here, beside the
server it starts: Starlette on uvicorn); what it guarantees is in docs/serve.md.
"""
import argparse

from ..flags.runtime import add_device_argument, resolve_device
from ..tiling import DEFAULT_OVERLAP, DEFAULT_TILE

HELP = 'start a local web app to restore and stylize photos'


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument('--model', action='append', default=[], metavar='NAME',
                        help='a pretrained model by name (`paddlegan list --models`), '
                             'repeatable: an SR model serves restore (a second one "stylize '
                             '+ upscale"), a stylize model serves stylize')
    parser.add_argument('--sr-model', default=None, metavar='DIR|NAME',
                        help='exported SR model folder (`paddlegan export`) or the name of a '
                             'pretrained SR model (`paddlegan list --models`) for restore')
    parser.add_argument('--lapstyle', default=None, metavar='MODEL|NAME',
                        help='LapStyle weight file, exported pyramid folder or the name of '
                             "one of PaddleGAN's LapStyle styles for stylize")
    parser.add_argument('--upscale-model', default=None, metavar='DIR|NAME',
                        help='exported SR model folder or pretrained SR model name for '
                             '"stylize + upscale" (default: --sr-model)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: 127.0.0.1, this computer only)')
    parser.add_argument('--allowed-host', action='append', default=[], metavar='NAME',
                        help='a host name the app is reached by (e.g. behind a proxy); '
                             'repeatable; "*" accepts any (default: the --host address and '
                             'localhost)')
    parser.add_argument('--port', type=int, default=8765,
                        help='port (default: 8765; 0 picks a free one)')
    parser.add_argument('--work-dir', default=None, metavar='DIR',
                        help='folder for uploads and results, the only place the app writes '
                             '(default: a new temporary folder, removed on exit)')
    parser.add_argument('--max-upload-mb', type=float, default=20.0, metavar='MB',
                        help='largest upload in MiB (default: 20)')
    parser.add_argument('--max-pixels', type=int, default=2048 * 2048, metavar='N',
                        help='largest image in pixels (default: 4194304; never above '
                             '$PPGAN_EXT_MAX_IMAGE_PIXELS or its default)')
    parser.add_argument('--max-queue', type=int, default=8, metavar='N',
                        help='jobs waiting or running at once; more are refused as busy '
                             '(default: 8)')
    parser.add_argument('--max-side', type=int, default=1024, metavar='N',
                        help='contents with a longer side above N are shrunk to N before '
                             'stylizing (default: 1024)')
    parser.add_argument('--tile', type=int, default=DEFAULT_TILE, metavar='N',
                        help=f'tile side of the SR models (default: {DEFAULT_TILE})')
    parser.add_argument('--tile-overlap', type=int, default=DEFAULT_OVERLAP, metavar='M',
                        help=f'tile overlap (default: {DEFAULT_OVERLAP})')
    add_device_argument(parser, default='cpu')
    parser.add_argument('--threads', type=int, default=None, metavar='N',
                        help='CPU threads of Paddle Inference (default: all cores)')
    parser.add_argument('--header-timeout', type=float, default=10.0, metavar='S',
                        help='seconds a client has to send a request line and headers '
                             '(default: 10)')
    parser.add_argument('--body-timeout', type=float, default=10.0, metavar='S',
                        help='longest pause while a client sends a body (default: 10)')
    parser.add_argument('--max-connections', type=int, default=1000, metavar='N',
                        help='open connections at once; more are answered busy (default: 1000)')
    parser.add_argument('--verbose', action='store_true', help='log every request')
    return parser


def model_slots(names, given: dict) -> dict:
    """Put each ``--model NAME`` in the slot its registry task says; ``{flag: value}``.

    An SR model (scale >= 2) fills ``--sr-model``, then ``--upscale-model``;
    a stylize model (a LapStyle style or ``magenta-arbitrary``) fills
    ``--lapstyle``.

    Raises:
        UnknownModel: a name not registered (one line, close names).
        ValueError: a model of a task the app does not serve, or a slot
            already filled (names the flag).
    """
    from ..zoo import registry

    def slot_flags(entry) -> list:
        if entry.task == 'sr' and entry.scale >= 2:
            return ['--sr-model', '--upscale-model']
        return ['--lapstyle'] if entry.task == 'stylize' else []

    slots = dict(given)
    for name in names:
        entry = registry.get(name)
        flags = slot_flags(entry)
        if not flags:
            served = [n for n in registry.names() if slot_flags(registry.get(n))]
            raise ValueError(f"--model {name}: a {entry.task!r} model (x{entry.scale}); the "
                             f"app serves SR models (x2 and up) and stylize models: "
                             f"{', '.join(served)}")
        free = [f for f in flags if not slots.get(f)]
        if not free:
            raise ValueError(f"--model {name}: {' and '.join(flags)} already given "
                             f"({', '.join(str(slots[f]) for f in flags)})")
        slots[free[0]] = name
    return slots


def run(args) -> int:
    from ..apps.photo_models import PhotoModelOptions
    from ..image_io import max_image_pixels
    from .run import ServerSettings, serve

    for flag, value, least in (('--max-pixels', args.max_pixels, 1),
                               ('--max-queue', args.max_queue, 1),
                               ('--max-side', args.max_side, 16),
                               ('--max-connections', args.max_connections, 1)):
        if value < least:
            raise ValueError(f"{flag} must be >= {least}, got {value}")
    for flag, value in (('--header-timeout', args.header_timeout),
                        ('--body-timeout', args.body_timeout)):
        if not 0 < value <= 3600:
            raise ValueError(f"{flag} must be in (0, 3600] seconds, got {value}")
    if not 0 < args.max_upload_mb <= 1024:
        raise ValueError(f"--max-upload-mb must be in (0, 1024], got {args.max_upload_mb}")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    slots = model_slots(args.model, {'--sr-model': args.sr_model, '--lapstyle': args.lapstyle,
                                     '--upscale-model': args.upscale_model})
    models = PhotoModelOptions(
        sr_model=slots['--sr-model'], lapstyle=slots['--lapstyle'],
        upscale_model=slots['--upscale-model'],
        tile=args.tile, overlap=args.tile_overlap, max_side=args.max_side,
        threads=args.threads, device=resolve_device(args.device))
    return serve(models, ServerSettings(
        host=args.host, port=args.port, work_dir=args.work_dir,
        allowed_hosts=args.allowed_host, max_upload=int(args.max_upload_mb * 2 ** 20),
        max_pixels=min(args.max_pixels, max_image_pixels()), max_queue=args.max_queue,
        header_timeout=args.header_timeout, body_timeout=args.body_timeout,
        max_connections=args.max_connections, verbose=args.verbose))
