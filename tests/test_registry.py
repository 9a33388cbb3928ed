"""Our components resolve through ppgan's builders and do not shadow ppgan's names."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from ppgan_ext.cli.list_components import registered


def _ours():
    return {reg: [name for name, mine in rows if mine] for reg, rows in registered().items()}


def test_expected_components_are_registered():
    ours = _ours()
    assert 'TransposeSRResNet' in ours['GENERATORS']
    assert 'SaltPepperDataset' in ours['DATASETS']


def test_each_registered_name_resolves_to_a_ppgan_ext_class():
    from ppgan_ext.config import ppgan_registries
    registries = ppgan_registries()
    count = 0
    for reg, names in _ours().items():
        for name in names:
            obj = registries[reg].get(name)
            assert obj.__module__.startswith('ppgan_ext.'), (reg, name)
            count += 1
    assert count >= 2


@pytest.mark.e2e
def test_no_name_collides_with_ppgan():
    """ppgan's own names, listed in a fresh interpreter that never imports ppgan_ext."""
    code = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('shim', sys.argv[1])\n"
        "shim = importlib.util.module_from_spec(spec); spec.loader.exec_module(shim)\n"
        "shim.apply()\n"
        "import ppgan.models, ppgan.datasets, ppgan.metrics, ppgan.solver\n"
        "assert not any(m.startswith('ppgan_ext') for m in sys.modules)\n"
        "from ppgan.datasets.builder import DATASETS\n"
        "from ppgan.metrics.builder import METRICS\n"
        "from ppgan.models.builder import MODELS\n"
        "from ppgan.models.criterions.builder import CRITERIONS\n"
        "from ppgan.models.discriminators.builder import DISCRIMINATORS\n"
        "from ppgan.models.generators.builder import GENERATORS\n"
        "from ppgan.solver.builder import LRSCHEDULERS, OPTIMIZERS\n"
        "regs = dict(MODELS=MODELS, GENERATORS=GENERATORS, DISCRIMINATORS=DISCRIMINATORS,\n"
        "            CRITERIONS=CRITERIONS, DATASETS=DATASETS, METRICS=METRICS,\n"
        "            LRSCHEDULERS=LRSCHEDULERS, OPTIMIZERS=OPTIMIZERS)\n"
        "print(json.dumps({k: sorted(r._obj_map) for k, r in regs.items()}))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    compat = os.path.join(root, 'ppgan_ext', 'compat.py')
    out = subprocess.run([sys.executable, '-c', code, compat], capture_output=True, text=True,
                         cwd=os.path.dirname(root), check=True).stdout.strip().splitlines()[-1]
    ppgan_names = json.loads(out)
    assert 'BaseSRModel' in ppgan_names['MODELS'] and 'RRDBNet' in ppgan_names['GENERATORS']
    ours = _ours()
    for reg, names in ours.items():
        clash = set(names) & set(ppgan_names[reg])
        assert not clash, f'{reg}: {clash} shadow ppgan components'
    assert sum(len(v) for v in ours.values()) >= 10


def test_builders_construct_our_generator():
    from ppgan.models.generators.builder import build_generator
    net = build_generator({'name': 'TransposeSRResNet', 'num_feat': 4, 'num_blocks': 1})
    assert type(net).__name__ == 'TransposeSRResNet'


def test_duplicate_registration_is_refused():
    from ppgan.models.generators.builder import GENERATORS
    from ppgan_ext.models.generators.transpose_srresnet import TransposeSRResNet
    with pytest.raises(AssertionError):
        GENERATORS.register(TransposeSRResNet)


def test_missing_ppgan_message_says_what_to_run(monkeypatch):
    from ppgan_ext import compat
    real = importlib.util.find_spec
    monkeypatch.setattr(compat, '_APPLIED', False)
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'ppgan' else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install --no-deps ppgan==2\.1\.0'):
        compat.apply()
