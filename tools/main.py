"""PaddleGAN's training / evaluation entry point, with ppgan-ext's components registered.

Same flags as PaddleGAN's ``tools/main.py``::

    python tools/main.py -c configs/saltpepper_transpose_srresnet_x4.yaml
    python tools/main.py -c CFG --resume output_dir/RUN/iter_1000_checkpoint.pdparams
    python tools/main.py -c CFG --evaluate-only --load output_dir/RUN/iter_1000_weight.pdparams
    python -m paddle.distributed.launch --nproc_per_node 2 tools/main.py -c CFG --no-cuda
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppgan_ext.cli import guarded  # noqa: E402
from ppgan_ext.engine.run import add_arguments, run  # noqa: E402

if __name__ == '__main__':
    parser = add_arguments(argparse.ArgumentParser(description='PaddleGAN (with ppgan-ext)'))
    sys.exit(guarded(run, parser.parse_args()))
