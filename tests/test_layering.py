"""Import layering: the application layer and the web server never import the command line.

``ppgan_ext/models`` imports none of deploy/cli/serve/apps; ``ppgan_ext/apps``
imports neither cli nor serve; ``ppgan_ext/serve`` does not import cli; in
``ppgan_ext/cli`` only the ``serve`` command (which starts the server)
imports ``ppgan_ext.serve``. Checked on the source (every ``import``,
function-level ones included), so no module has to be imported.
"""
import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'ppgan_ext')


def _imports(package: str):
    """(module file, imported ppgan_ext subpackage) for every import under ``package``."""
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                targets = []
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    if node.level:      # relative to the module's package, parts[:-1]
                        base = parts[:-1][:len(parts) - node.level]
                        module = '.'.join(['ppgan_ext'] + base
                                          + ([node.module] if node.module else []))
                    else:
                        module = node.module or ''
                    targets = [module] + [f'{module}.{a.name}' for a in node.names]
                for target in targets:
                    bits = target.split('.')
                    if bits[0] == 'ppgan_ext' and len(bits) > 1:
                        found.append(('/'.join(parts), bits[1]))
    return found


def test_layers_import_only_downwards():
    bad = [(m, t) for m, t in _imports('models') if t in ('deploy', 'cli', 'serve', 'apps')]
    bad += [(m, t) for m, t in _imports('apps') if t in ('cli', 'serve')]
    bad += [(m, t) for m, t in _imports('serve') if t == 'cli']
    bad += [(m, t) for m, t in _imports('cli') if t == 'serve' and m != 'cli/serve']
    assert not bad, bad
    # the check sees imports at all: the serve command does start the server
    assert ('cli/serve', 'serve') in _imports('cli')
    assert ('serve/server', 'apps') in _imports('serve')
