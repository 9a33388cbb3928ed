"""Export to Paddle Inference and ONNX: files, sidecar, parity with the dynamic graph, weights,
failures."""
import json
import os
import shutil

import numpy as np
import pytest

from _export_helpers import (dygraph_net, dygraph_run, error_lines, nets_only_model_class,
                             run_tool, save_weights, sr_config)

EXPORT = os.path.join('tools', 'export_model.py')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A tiny BatchNorm TransposeSRResNet x4, exported through tools/export_model.py."""
    root = tmp_path_factory.mktemp('export')
    config = sr_config(str(root / 'sr.yaml'))
    weights_file = str(root / 'iter_10_checkpoint.pdparams')
    weights = save_weights(config, weights_file, checkpoint=True)
    out = str(root / 'model')
    proc = run_tool([EXPORT, '-c', config, '--load', weights_file, '-s=-1,3,-1,-1',
                     '--output_dir', out, '--parity-sizes', '32x32,47x33,20x64'])
    return dict(root=root, config=config, weights=weights, weights_file=weights_file,
                out=out, proc=proc)


def test_export_writes_model_sidecar_and_passes_parity(exported):
    proc, out = exported['proc'], exported['out']
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == ['basesrmodel_generator.json', 'basesrmodel_generator.onnx',
                                       'basesrmodel_generator.pdiparams', 'ppgan_ext.json']
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['kind'] == 'sr' and meta['scale'] == 4
    assert meta['formats'] == ['paddle', 'onnx']
    assert meta['onnx_file'] == 'basesrmodel_generator.onnx'
    assert meta['onnx_parity']['sizes'] == [[32, 32], [47, 33], [20, 64]]
    assert 0 <= meta['onnx_parity']['max_abs_diff'] < 1e-4
    onnx_reported = float(proc.stdout.split('ONNX Runtime - dynamic graph| = ')[1].split()[0])
    assert onnx_reported == pytest.approx(meta['onnx_parity']['max_abs_diff'], rel=1e-2)
    assert meta['inputs'] == [{'name': 'lq', 'shape': [-1, 3, -1, -1]}]
    assert (meta['in_channels'], meta['out_channels']) == (3, 3)
    assert meta['channel_order'] == 'RGB' and meta['value_range'] == [0.0, 1.0]
    assert meta['net_class'] == 'TransposeSRResNet'
    assert meta['parity']['sizes'] == [[32, 32], [47, 33], [20, 64]]
    assert 0 <= meta['parity']['max_abs_diff'] < 1e-4
    reported = float(proc.stdout.split('dynamic graph| = ')[1].split()[0])
    assert reported == pytest.approx(meta['parity']['max_abs_diff'], rel=1e-2)
    assert 'over 32x32, 47x33, 20x64' in proc.stdout


def test_exported_model_matches_dygraph_at_new_sizes_in_eval_mode(exported):
    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor

    net = dygraph_net(exported['config'], exported['weights'])
    predictor = Predictor(exported['out'], threads=1)
    rng = np.random.default_rng(5)
    for h, w in ((17, 23), (40, 40), (9, 31)):
        x = rng.random((1, 3, h, w), dtype=np.float32)
        ref = dygraph_run(net, x)
        out = predictor(x)
        assert out.shape == (1, 3, 4 * h, 4 * w)
        assert np.abs(out - ref).max() < 1e-4
    # BatchNorm must have been frozen: train-mode statistics give another output
    net.train()
    train_out = dygraph_run(net, x)
    assert np.abs(train_out - out).max() > 1e-2


def test_export_cli_in_process_replaces_previous_export(exported, tmp_path):
    from ppgan_ext.cli import main

    out = str(tmp_path / 'model')
    shutil.copytree(exported['out'], out)
    old = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    weights_file = str(tmp_path / 'other_weight.pdparams')
    new_weights = save_weights(exported['config'], weights_file, seed=3)
    rc = main(['export', '-c', exported['config'], '--load', weights_file,
               '--output_dir', out])
    assert rc == 0
    meta = json.load(open(os.path.join(out, 'ppgan_ext.json')))
    assert meta['weights'] == os.path.abspath(weights_file) != old['weights']
    assert sorted(os.listdir(out)) == sorted(os.listdir(exported['out']))

    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
    x = np.random.default_rng(1).random((1, 3, 15, 21), dtype=np.float32)
    ref = dygraph_run(dygraph_net(exported['config'], new_weights), x)
    assert np.abs(Predictor(out, threads=1)(x) - ref).max() < 1e-4


def test_bad_weights_give_one_line_errors(exported, tmp_path, capsys):
    from ppgan_ext.cli import main

    cases = [
        (['--load', str(tmp_path / 'missing.pdparams')], 'file not found'),
        (['--load', exported['config']], 'not a ppgan weight file'),
        (['--load', exported['weights_file'], '-o', 'model.generator.num_feat=16'],
         'has shape'),
    ]
    garbage = tmp_path / 'garbage.pdparams'
    garbage.write_bytes(b'\x80\x02not a pickle at all')
    cases.append((['--load', str(garbage)], 'not a ppgan weight file'))
    for extra, expected in cases:
        rc = main(['export', '-c', exported['config'], '--output_dir',
                   str(tmp_path / 'never')] + extra)
        err = capsys.readouterr().err
        lines = error_lines(err)
        assert rc == 2 and len(lines) == 1 and expected in lines[0], err
        assert not os.path.exists(tmp_path / 'never')


def test_parity_failure_leaves_previous_export_untouched(exported, tmp_path):
    """A net whose Python code behaves differently once converted must fail the check."""
    import paddle
    import paddle.nn as nn
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import ParityError, export_model

    class Divergent(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 3, 3, 1, 1)

        def forward(self, x):
            y = self.conv(x)
            if paddle.in_dynamic_mode():  # False while to_static traces: not in the graph
                y = y + 0.01
            return y

    class DivergentModel(nets_only_model_class()):
        def __init__(self):
            super().__init__()
            self.nets['generator'] = Divergent()

    out = str(tmp_path / 'model')
    shutil.copytree(exported['out'], out)
    before = {n: open(os.path.join(out, n), 'rb').read() for n in os.listdir(out)}
    cfg = load_config(exported['config'])
    with pytest.raises(ParityError, match=r'= 0\.01 > 0\.0001'):
        export_model(cfg, None, out, model=DivergentModel())
    assert {n: open(os.path.join(out, n), 'rb').read() for n in os.listdir(out)} == before


def test_registered_exporter_two_inputs(tmp_path):
    """The hook for models that are not lq -> sr: a two-input 'stylize' graph."""
    import paddle
    import paddle.nn as nn
    from paddle.static import InputSpec

    from ppgan_ext.deploy.export import EXPORTERS, ExportSpec, export_model, register_exporter
    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor

    class Mix(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 3, 3, 1, 1)

        def forward(self, content, style):
            return self.conv(content) * paddle.mean(style, axis=[2, 3], keepdim=True)

    class TwoInputModel(nets_only_model_class()):
        def __init__(self):
            super().__init__()
            self.nets['net_mix'] = Mix()

    def exporter(model, cfg, options, inputs_size):
        def make_inputs(rng, h, w):
            return [rng.random((1, 3, h, w), dtype=np.float32),
                    rng.random((1, 3, 24, 24), dtype=np.float32)]
        return ExportSpec(layer=model.nets['net_mix'],
                          input_specs=[InputSpec([1, 3, None, None], 'float32', 'content'),
                                       InputSpec([1, 3, None, None], 'float32', 'style')],
                          kind='stylize', name='twoinput', nets=['net_mix'],
                          make_inputs=make_inputs)

    rng = np.random.default_rng(0)
    content = rng.random((1, 3, 13, 17), dtype=np.float32)
    style = rng.random((1, 3, 30, 20), dtype=np.float32)
    model = TwoInputModel()
    model.nets['net_mix'].eval()
    ref = dygraph_run(lambda c: model.nets['net_mix'](c, paddle.to_tensor(style)), content)
    register_exporter('TwoInputModel')(exporter)
    try:
        report = export_model({'model': {'name': 'TwoInputModel'}}, None,
                              str(tmp_path / 'm'), model=model)
    finally:
        del EXPORTERS['TwoInputModel']
    meta = json.load(open(tmp_path / 'm' / 'ppgan_ext.json'))
    assert meta['kind'] == 'stylize'
    assert [i['name'] for i in meta['inputs']] == ['content', 'style']
    assert report.max_abs_diff < 1e-4
    assert np.abs(Predictor(str(tmp_path / 'm'), threads=1)(content, style) - ref).max() < 1e-5


@pytest.mark.e2e
def test_pdmodel_from_legacy_program_loads(tmp_path):
    """Paddle 2's NAME.pdmodel: written with the legacy IR, found and run by the tools."""
    config = sr_config(str(tmp_path / 'x1.yaml'), scale=1, norm='none')
    weights_file = str(tmp_path / 'w.pdparams')
    weights = save_weights(config, weights_file)
    out = str(tmp_path / 'legacy')
    proc = run_tool([EXPORT, '-c', config, '--load', weights_file, '--output_dir', out],
                    extra_env={'FLAGS_enable_pir_api': '0'})
    assert proc.returncode == 0, proc.stderr
    assert 'basesrmodel_generator.pdmodel' in os.listdir(out)

    from ppgan_ext.deploy.backends.paddle import PaddlePredictor as Predictor
    from ppgan_ext.deploy.onednn import graph_ops
    predictor = Predictor(out, threads=1)
    assert 'conv2d' in graph_ops(predictor.info.model_file)
    x = np.random.default_rng(2).random((1, 3, 19, 26), dtype=np.float32)
    ref = dygraph_run(dygraph_net(config, weights), x)
    assert np.abs(predictor(x) - ref).max() < 1e-4

    # re-exporting with Paddle 3 replaces the legacy files
    from ppgan_ext.cli import main
    assert main(['export', '-c', config, '--load', weights_file, '--output_dir', out,
                 '--format', 'paddle']) == 0
    assert sorted(os.listdir(out)) == ['basesrmodel_generator.json',
                                       'basesrmodel_generator.pdiparams', 'ppgan_ext.json']
    assert np.abs(Predictor(out, threads=1)(x) - ref).max() < 1e-4


def test_inputs_size_and_export_options_are_checked(exported, tmp_path, capsys):
    from ppgan_ext.cli import main
    from ppgan_ext.deploy.export import export_options, parse_inputs_size

    assert parse_inputs_size('-1,3,-1,-1;1,3,256,256') == [[-1, 3, -1, -1], [1, 3, 256, 256]]
    assert export_options({'export_model': [{'name': 'generator', 'inputs_num': 1}]}) == \
        {'net': 'generator', 'inputs_num': 1}
    with pytest.raises(ValueError, match='export_model.nett: unknown key'):
        export_options({'export_model': {'nett': 'generator'}})
    for extra, expected in ((['-s', '1,3,a,4'], 'not comma-separated'),
                            (['-s=-1,1,-1,-1'], 'does not fit generator'),
                            (['-o', 'export_model.0.name=discriminator'],
                             "'discriminator' is not a net")):
        rc = main(['export', '-c', exported['config'], '--load', exported['weights_file'],
                   '--output_dir', str(tmp_path / 'never')] + extra)
        lines = error_lines(capsys.readouterr().err)
        assert rc == 2 and len(lines) == 1 and expected in lines[0], lines


def test_model_code_never_imports_deployment_code():
    """Layers point one way: config -> model -> deploy; nothing under models/ imports deploy."""
    import ast

    import ppgan_ext.models as models

    root = os.path.dirname(models.__file__)
    offenders = []
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(folder, name)
            for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ''] if isinstance(node, ast.ImportFrom) else []
                for module in modules:
                    parts = module.split('.')
                    if {'deploy', 'export', 'inference'} & set(parts):
                        offenders.append(f'{os.path.relpath(path, root)}: {module}')
    assert offenders == []
    # the LapStyle exporter is registered from the deploy package
    from ppgan_ext.deploy.export import EXPORTERS, export_layer  # noqa: F401
    from ppgan_ext.deploy.exporters.lapstyle import export_pyramid

    assert EXPORTERS['LapStylePyramidModel'] is export_pyramid
