"""oneDNN on CPU: the predictor the tools build must run our nets without crashing.

Paddle Inference 3.3.1's oneDNN passes segfault (conv + leaky_relu) or fail at
run time (interpolation) on these nets; :func:`ppgan_ext.deploy.backends.paddle.build_config`
deletes exactly the passes at fault. Each predictor runs in a child process,
through ``paddlegan infer``, so that a segfault fails the test instead of
killing the test runner.
"""
import json
import os

import cv2
import numpy as np
import pytest

from _export_helpers import (dygraph_net, dygraph_run, rgb_input, run_tool, save_weights,
                             sr_config, to_png_pixels)

NETS = {
    # PReLU: oneDNN placement makes it ~25x slower
    'transpose_srresnet_bn': dict(name='TransposeSRResNet', num_feat=8, num_blocks=1, scale=4),
    # + bilinear interpolation: placement fails with ArrayAttribute<DoubleAttribute>
    'transpose_srresnet_residual': dict(name='TransposeSRResNet', num_feat=8, num_blocks=1,
                                        scale=4, norm='none', deconv_kernel=4,
                                        global_residual=True),
    # ppgan's ESRGAN generator: conv + leaky_relu segfaults the conv-activation fusion
    'rrdbnet': dict(name='RRDBNet', in_nc=3, out_nc=3, nf=8, nb=1),
}
EXPECTED_PASSES = {
    'transpose_srresnet_bn': ['onednn_placement_pass'],
    'transpose_srresnet_residual': ['onednn_placement_pass'],
    'rrdbnet': ['conv_activation_onednn_fuse_pass', 'onednn_placement_pass'],
}


def test_policy_deletes_only_the_passes_a_graph_needs():
    from ppgan_ext.deploy.onednn import onednn_passes_to_delete

    assert onednn_passes_to_delete({'conv2d', 'relu', 'add'}) == []
    assert onednn_passes_to_delete({'conv2d', 'leaky_relu'}) == \
        ['conv_activation_onednn_fuse_pass']
    assert onednn_passes_to_delete({'conv2d', 'bilinear_interp', 'prelu'}) == \
        ['onednn_placement_pass']


@pytest.mark.parametrize('net', sorted(NETS))
@pytest.mark.e2e
def test_tool_predictor_runs_our_nets_with_onednn(net, tmp_path, photos):
    import ppgan_ext  # noqa: F401
    from ppgan_ext.config import load_config
    from ppgan_ext.deploy.export import export_model
    from ppgan_ext.deploy.backends.paddle import build_config
    from ppgan_ext.deploy.onednn import graph_ops

    generator = dict(NETS[net])
    config = sr_config(str(tmp_path / 'c.yaml'), **generator)
    weights = save_weights(config, str(tmp_path / 'w.pdparams'), seed=2)
    # export without the in-process parity run: the child process below runs it. Paddle
    # format only: the graph keeps leaky_relu as written (an ONNX export traces it as where())
    report = export_model(load_config(config), str(tmp_path / 'w.pdparams'),
                          str(tmp_path / 'model'), parity=False, formats=['paddle'])
    ops = graph_ops(report.model_file)
    config_obj, deleted = build_config(report.model_file, report.params_file, threads=1)
    assert deleted == EXPECTED_PASSES[net], sorted(ops)
    assert config_obj.mkldnn_enabled()

    lq = str(tmp_path / 'lq.png')
    cv2.imwrite(lq, photos['astronaut'][100:131, 200:247])  # 31 x 47
    proc = run_tool(['tools/inference.py', '--model_dir', str(tmp_path / 'model'),
                     '--input', lq, '--output', str(tmp_path / 'out'), '--threads', '1'])
    assert proc.returncode == 0, f'return code {proc.returncode}: {proc.stderr[-2000:]}'
    written = cv2.imread(str(tmp_path / 'out' / 'lq.png'))
    expected = to_png_pixels(dygraph_run(dygraph_net(config, weights), rgb_input(lq)))
    assert written.shape == (124, 188, 3)
    assert np.abs(written.astype(int) - expected).max() <= 1
    meta = json.load(open(os.path.join(tmp_path, 'model', 'ppgan_ext.json')))
    assert meta['parity'] is None and meta['scale'] == 4
