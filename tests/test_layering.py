"""Import layering: models at the bottom, deploy and the application layer above, shells on top.

* ``ppgan_ext/models`` imports none of apps/deploy/cli/serve;
* ``ppgan_ext/deploy`` imports none of apps/cli/serve;
* ``ppgan_ext/apps`` imports neither cli nor serve;
* the two shells never import each other: ``ppgan_ext/serve`` does not import
  cli and ``ppgan_ext/cli`` does not import serve (``paddlegan serve`` is
  ``serve/command.py``, which ``paddlegan``'s table of commands names by path);
  the options both build their parsers from are in ``ppgan_ext/flags``, which
  imports neither shell nor the application layer;
* the exporter registry (``deploy/export_spec.py``) imports no exporter
  (they register themselves), so the two never form an import circle;
* no module imports another module's private (``_name``) names.

Checked on the source (every ``import``, function-level ones included), so no
module has to be imported.
"""
import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'ppgan_ext')


def _modules(package: str = ''):
    """(path parts without .py, parsed tree) of every module under ``ppgan_ext/<package>``."""
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as f:
                    yield os.path.relpath(path, ROOT)[:-3].split(os.sep), ast.parse(f.read())


def _absolute(parts, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ''
    base = parts[:-1][:len(parts) - node.level]
    return '.'.join(['ppgan_ext'] + base + ([node.module] if node.module else []))


def _imports(package: str):
    """(module, imported ppgan_ext subpackage, top-level import?) for every import."""
    found = []
    for parts, tree in _modules(package):
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(parts, node)
                targets = [module] + [f'{module}.{a.name}' for a in node.names]
            for target in targets:
                bits = target.split('.')
                if bits[0] == 'ppgan_ext' and len(bits) > 1:
                    found.append(('/'.join(parts), '.'.join(bits[1:]), id(node) in top))
    return found


def _layer(target: str) -> str:
    return target.split('.')[0]


def test_layers_import_only_downwards():
    bad = [(m, t) for m, t, _ in _imports('models')
           if _layer(t) in ('deploy', 'cli', 'serve', 'apps')]
    bad += [(m, t) for m, t, _ in _imports('deploy') if _layer(t) in ('apps', 'cli', 'serve')]
    bad += [(m, t) for m, t, _ in _imports('apps') if _layer(t) in ('cli', 'serve')]
    assert not bad, bad
    # the check sees imports at all
    assert any(m == 'serve/server' and _layer(t) == 'apps' for m, t, _ in _imports('serve'))
    assert any(_layer(t) == 'deploy' for m, t, _ in _imports('apps'))


def test_cli_and_serve_never_import_each_other():
    assert [(m, t) for m, t, _ in _imports('serve') if _layer(t) == 'cli'] == []
    assert [(m, t) for m, t, _ in _imports('cli') if _layer(t) == 'serve'] == []
    assert [(m, t) for m, t, _ in _imports('flags') if _layer(t) in ('cli', 'serve', 'apps')] == []
    # the check sees imports at all: both shells take their options from flags
    assert any(m == 'serve/command' and _layer(t) == 'flags' for m, t, _ in _imports('serve'))
    assert any(_layer(t) == 'flags' for m, t, _ in _imports('cli'))


def test_exporter_registry_does_not_import_the_exporters():
    registry = [t for m, t, _ in _imports('deploy') if m == 'deploy/export_spec']
    assert not [t for t in registry if t.startswith('deploy.exporters')], registry
    # the exporters do import the registry (they register themselves)
    assert any(m.startswith('deploy/exporters/') and t.startswith('deploy.export_spec')
               for m, t, _ in _imports('deploy'))


def test_no_private_names_imported_across_modules():
    bad = []
    for parts, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _absolute(parts, node).startswith('ppgan_ext'):
                bad += [('/'.join(parts), _absolute(parts, node), a.name) for a in node.names
                        if a.name.startswith('_') and not a.name.startswith('__')]
    assert not bad, bad
