"""Peak memory of ``paddlegan stylize --model NAME --upscale SR_NAME``: whole-image vs tiled upscale.

    python bench/stylize_upscale_memory.py
    python bench/stylize_upscale_memory.py --upscale realesrgan-x4plus --sizes 512x384

Each row is a fresh ``paddlegan stylize`` process under ``/usr/bin/time -v``
(its maximum resident set size), on scikit-image's ``chelsea`` resized to
each size, styled by ``coffee``: the stylizer (default ``magenta-arbitrary``
on ``--backend``, default OpenVINO) then the named upscaler, first on the whole
stylized image (``--upscale-tile 0``), then tile by tile (the default 128,
overlap 16). Both give the same PNG size; the tiled one keeps the upscaler's
activations to one tile's. The models' files are fetched / exported once
before the measured runs.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', default='magenta-arbitrary', help='stylization model name')
    p.add_argument('--upscale', default='realesr-animevideov3-x4', help='SR model name')
    p.add_argument('--backend', default='openvino',
                   help="the stylizer's --backend (default: openvino; dygraph: Paddle's "
                        "dynamic graph with the int8 quantization points)")
    p.add_argument('--sizes', default='512x384,1024x768', help='content sizes WxH')
    p.add_argument('--tiles', default='0,128', help='--upscale-tile values (0: whole image)')
    return p.parse_args(argv)


def paddlegan() -> list:
    return [sys.executable, '-c', 'import sys; from ppgan_ext.cli import main; '
            'sys.exit(main(sys.argv[1:]))']


def run(args, content, style, out, tile):
    cmd = ['/usr/bin/time', '-v'] + paddlegan() + [
        'stylize', '--model', args.model, '--backend', args.backend, '--content', content, '--style', style,
        '--upscale', args.upscale, '--upscale-tile', str(tile), '--output', out, '--overwrite']
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f'stylize failed ({proc.returncode}): {proc.stderr[-800:]}')
    kb = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', proc.stderr).group(1))
    return kb / 1024.0, seconds


def main(argv=None):
    args = parse_args(argv)
    from ppgan_ext.deploy.cpu import cpu_flags, cpu_name
    from ppgan_ext.sample_data import sample_image

    work = tempfile.mkdtemp(prefix='stylize_upscale_mem_')
    style = os.path.join(work, 'style.png')
    cv2.imwrite(style, sample_image('coffee'))
    photo = sample_image('chelsea')
    sizes = [tuple(int(v) for v in s.split('x')) for s in args.sizes.split(',')]
    tiles = [int(t) for t in args.tiles.split(',')]
    small = os.path.join(work, 'warm.png')
    cv2.imwrite(small, cv2.resize(photo, (64, 48), interpolation=cv2.INTER_AREA))
    run(args, small, style, os.path.join(work, 'warm'), 128)   # fetch + export once
    bf16 = sorted(f for f in cpu_flags() if f in ('amx_bf16', 'avx512_bf16'))
    print(f'CPU: {cpu_name()} ({", ".join(bf16) or "no AMX/AVX512-BF16"}); load '
          f'average {os.getloadavg()[0]:.1f}')
    print(f'{args.model} ({args.backend}) + {args.upscale}: peak RSS of a fresh '
          f'`paddlegan stylize` process')
    print(f"{'content':>10} {'output':>11} {'upscale':>12} {'peak RSS MB':>12} {'seconds':>8}")
    for w, h in sizes:
        content = os.path.join(work, f'content_{w}x{h}.png')
        cv2.imwrite(content, cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA))
        for tile in tiles:
            mb, sec = run(args, content, style, os.path.join(work, f'out_{w}_{tile}'), tile)
            out = cv2.imread(os.path.join(work, f'out_{w}_{tile}', f'content_{w}x{h}.png'))
            label = 'whole' if tile == 0 else f'tiles {tile}'
            print(f'{w}x{h:>4} {out.shape[1]:>6}x{out.shape[0]:<4} {label:>12} {mb:>12.0f} '
                  f'{sec:>8.1f}', flush=True)


if __name__ == '__main__':
    main()
