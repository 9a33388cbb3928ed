"""``paddlegan list``: the components registered in ppgan's registries."""
HELP = "list registered components (ppgan's and ppgan-ext's, ours marked with *)"


def add_arguments(parser):
    parser.add_argument('--ours', action='store_true', help="show only ppgan-ext's components")
    parser.add_argument('registry', nargs='?', default=None,
                        help='only this registry (e.g. GENERATORS, DATASETS, MODELS)')


def registered(ours_only: bool = False):
    """{registry name: [(component name, is ours)]} in registry order."""
    import ppgan_ext  # noqa: F401  (registers our components)
    from ..config import _registries

    table = {}
    for reg_name, registry in _registries().items():
        rows = []
        for name, obj in sorted(registry._obj_map.items()):
            mine = getattr(obj, '__module__', '').startswith('ppgan_ext')
            if mine or not ours_only:
                rows.append((name, mine))
        table[reg_name] = rows
    return table


def run(args) -> int:
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
