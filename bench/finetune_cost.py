"""Seconds per training step of the nets ``make demo`` could fine-tune, side by side.

One Adam step (forward, L1 loss, backward, update) on random crops, in this
process with one math thread, for:

* the demo's from-scratch ``TransposeSRResNet`` (32 features, 4 blocks);
* ``SRVGGNetCompact`` (realesr-animevideov3 x4: 64 features, 16 convs at the
  input's resolution, 0.6 M parameters);
* the same ``SRVGGNetCompact`` trained with ``L1SSIMLoss`` (L1 + 0.1 x
  (1 - SSIM)) instead of L1;
* the same ``SRVGGNetCompact`` with Paddle's own ``nn.Conv2D`` / ``nn.PReLU``
  forward in training (the net uses :mod:`ppgan_ext.models.layers`: same
  numbers, faster kernels);
* ppgan's ``RRDBNet(3, 3, 64, 23)`` (Real-ESRGAN x4plus, 16.7 M parameters),
  all of it trained, and with the first ``--frozen`` RRDBs frozen
  (``stop_gradient``: no weight gradients there; their forward remains).

The variants run in turns, ``--rounds`` times, so a machine whose load drifts
slows them all alike; it prints the median per net, its ratio to the
from-scratch net, and what each could do in the demo's 5 minutes of
fine-tuning. Weights are random: the cost of a step does not depend on them.

Usage::

    python bench/finetune_cost.py               # batch 4 of 64x64 crops (16x16 input)
    python bench/finetune_cost.py --lr-size 24 --batch 4 --only SRVGG   # a demo process
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def cpu_name() -> str:
    """The CPU's model name and whether AMX / AVX512-BF16 are present."""
    from ppgan_ext.deploy.cpu import cpu_flags
    from ppgan_ext.deploy.cpu import cpu_name as model_name

    name, flags = model_name(), cpu_flags()
    return (f"{name}; AMX {'yes' if 'amx_bf16' in flags else 'no'}, AVX512-BF16 "
            f"{'yes' if 'avx512_bf16' in flags else 'no'}")


def with_paddle_layers(net):
    """``net`` with its ppgan_ext.models.layers running Paddle's own forward in training."""
    import types

    import paddle.nn as nn

    from ppgan_ext.models import layers

    for sub in net.sublayers():
        for ours, theirs in ((layers.Conv2D, nn.Conv2D), (layers.PReLU, nn.PReLU)):
            if isinstance(sub, ours):
                sub.forward = types.MethodType(theirs.forward, sub)
    return net


def nets(frozen: int):
    import ppgan_ext  # noqa: F401
    from ppgan.models.generators.rrdb_net import RRDBNet

    from ppgan_ext.models.generators.srvgg_net import SRVGGNetCompact
    from ppgan_ext.models.generators.transpose_srresnet import TransposeSRResNet

    demo = TransposeSRResNet(num_feat=32, num_blocks=4, scale=4, norm='none', deconv_kernel=4,
                             global_residual=True)
    rrdb_frozen = RRDBNet(3, 3, 64, 23)
    for block in list(rrdb_frozen.RRDB_trunk.children())[:frozen]:
        for p in block.parameters():
            p.stop_gradient = True
    rrdb_frozen.conv_first.weight.stop_gradient = True
    rrdb_frozen.conv_first.bias.stop_gradient = True
    return {'TransposeSRResNet 32x4 (from scratch)': demo,
            'SRVGGNetCompact (animevideov3)': SRVGGNetCompact(),
            'SRVGGNetCompact, L1 + 0.1 SSIM loss': SRVGGNetCompact(),
            "SRVGGNetCompact, Paddle's nn layers": with_paddle_layers(SRVGGNetCompact()),
            'RRDBNet 23 blocks (x4plus)': RRDBNet(3, 3, 64, 23),
            f'RRDBNet, first {frozen} blocks frozen': rrdb_frozen}


def l1(out, y):
    return (out - y).abs().mean()


def step_time(net, opt, x, y, loss_fn=l1) -> float:
    start = time.perf_counter()
    loss = loss_fn(net(x), y)
    loss.backward()
    opt.step()
    opt.clear_grad()
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--lr-size', type=int, default=16, help='input crop side (x4 output)')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--frozen', type=int, default=20)
    p.add_argument('--only', default='', help='only the nets whose name contains this')
    p.add_argument('--budget', type=float, default=300.0, help='seconds of fine-tuning')
    args = p.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import paddle

    paddle.set_device('cpu')
    paddle.seed(0)
    x = paddle.rand([args.batch, 3, args.lr_size, args.lr_size])
    y = paddle.rand([args.batch, 3, 4 * args.lr_size, 4 * args.lr_size])
    from ppgan_ext.models.criterions.l1_ssim_loss import L1SSIMLoss

    runs = {}
    for name, net in nets(args.frozen).items():
        if args.only not in name:
            continue
        net.train()
        params = [q for q in net.parameters() if not q.stop_gradient]
        opt = paddle.optimizer.Adam(1e-4, parameters=params)
        loss_fn = L1SSIMLoss(ssim_weight=0.1) if 'SSIM' in name else l1
        step_time(net, opt, x, y, loss_fn)   # warm-up
        runs[name] = (net, opt, [], sum(int(q.size) for q in params), loss_fn)
    for _ in range(args.rounds):
        for net, opt, times, _, loss_fn in runs.values():
            times.append(step_time(net, opt, x, y, loss_fn))
    print(f'CPU: {cpu_name()}; Paddle {paddle.__version__}, 1 thread, batch {args.batch} of '
          f'{args.lr_size}x{args.lr_size} inputs, median of {args.rounds}')
    print('| net | trained parameters | s per step | x first row | steps in '
          f'{args.budget:.0f} s |')
    print('|---|---|---|---|---|')
    base = None
    for name, (_, _, times, count, _) in runs.items():
        t = statistics.median(times)
        base = base or t
        print(f'| {name} | {count / 1e6:.2f} M | {t:.3f} | {t / base:.1f} | '
              f'{int(args.budget / t)} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
