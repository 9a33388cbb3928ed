"""``paddlegan list``: the components registered in ppgan's registries, or the named models.

``paddlegan list --models`` prints every named pretrained model
(:mod:`ppgan_ext.zoo`): name, task, where its weights come from, their size,
licence, and whether they are on disk already. It imports no Paddle.
"""
HELP = "list registered components (ppgan's and ppgan-ext's, ours marked with *) or --models"


def add_arguments(parser):
    parser.add_argument('--ours', action='store_true', help="show only ppgan-ext's components")
    parser.add_argument('--models', action='store_true',
                        help='list the named pretrained models instead (infer/export/stylize '
                             '--model NAME)')
    parser.add_argument('registry', nargs='?', default=None,
                        help='only this registry (e.g. GENERATORS, DATASETS, MODELS)')


def registered(ours_only: bool = False):
    """{registry name: [(component name, is ours)]} in registry order."""
    import ppgan_ext  # noqa: F401  (registers our components)
    from ..config import ppgan_registries

    table = {}
    for reg_name, registry in ppgan_registries().items():
        rows = []
        for name, obj in sorted(registry._obj_map.items()):
            mine = getattr(obj, '__module__', '').startswith('ppgan_ext')
            if mine or not ours_only:
                rows.append((name, mine))
        table[reg_name] = rows
    return table


def _size(n) -> str:
    if not n:
        return '?'
    return f'{n / 1e6:.1f} MB' if n >= 1e6 else f'{n / 1e3:.0f} kB'


def model_rows():
    """``[(name, task, source, size, licence, on disk)]`` of every named model."""
    import importlib.util
    import os

    from ..zoo import registry
    from ..zoo.download import weights_path

    rows = []
    for entry in registry.entries():
        weights = entry.weights
        if isinstance(weights, registry.UrlWeights):
            path = weights_path(weights)
            on_disk = os.path.isfile(path)
            size = os.path.getsize(path) if on_disk else entry.size_bytes
            source = f'ppgan: {weights.url}'
        else:
            installed = importlib.util.find_spec(weights.module.split('.')[0]) is not None
            on_disk = installed
            size = entry.size_bytes
            source = f'pip: {weights.package}' + ('' if installed else ' (not installed)')
        rows.append((entry.name, entry.task, source, _size(size), entry.licence,
                     'yes' if on_disk else 'no'))
    return rows


def print_models() -> int:
    rows = [('name', 'task', 'weights from', 'size', 'licence', 'on disk')] + model_rows()
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print('  '.join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if i == 0:
            print('  '.join('-' * w for w in widths))
    print('run one with: paddlegan infer --model NAME --input IMAGE_DIR_OR_VIDEO --output OUT '
          '(vsr models: a video or a folder of frames; stylize models: paddlegan stylize '
          '--model NAME)')
    return 0


def run(args) -> int:
    if args.models:
        if args.ours or args.registry:
            raise ValueError('--models lists the named models; it takes no --ours or registry')
        return print_models()
    table = registered(args.ours)
    if args.registry:
        key = args.registry.upper()
        if key not in table:
            raise ValueError(f"unknown registry {args.registry!r}; choose from "
                             f"{', '.join(table)}")
        table = {key: table[key]}
    for reg_name, rows in table.items():
        print(f'{reg_name} ({len(rows)})')
        for name, mine in rows:
            print(f"  {'*' if mine else ' '} {name}")
    print('* = registered by ppgan-ext')
    return 0
