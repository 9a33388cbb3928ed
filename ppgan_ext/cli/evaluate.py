"""``paddlegan eval``: evaluate weights on a config's ``dataset.test``."""
from ..engine import run as _run
from ..flags.runtime import add_device_argument

HELP = 'evaluate weights on dataset.test of a config (PSNR/SSIM as the config says)'


def add_arguments(parser):
    parser.add_argument('-c', '--config-file', metavar='FILE', required=True,
                        help='config file path')
    parser.add_argument('--load', metavar='WEIGHTS', required=True,
                        help='weights file (*_weight.pdparams or *_checkpoint.pdparams)')
    parser.add_argument('-o', '--opt', nargs='+', default=None, metavar='KEY=VALUE',
                        help='override config entries')
    add_device_argument(parser)
    parser.add_argument('--seed', type=int, default=None, help='seed')
    parser.add_argument('--allow-partial-load', action='store_true', default=False,
                        help='load the parameters that fit and leave the others as '
                             'initialised (else missing or mis-shaped ones are an error)')


def run(args) -> int:
    args.evaluate_only = True
    args.resume = None
    args.profiler_options = None
    return _run.run(args)
