"""Export a trained model to Paddle Inference and ONNX (flags of PaddleGAN's ``export_model.py``).

    python tools/export_model.py -c configs/demo_saltpepper_x4.yaml \
        --load output_dir/RUN/iter_1200_weight.pdparams --output_dir inference_model/demo_x4

Dynamic batch, height and width; ``--format paddle,onnx`` (default) writes both
graphs, and each is run against the dynamic graph (Paddle Inference, ONNX
Runtime): the export fails if they differ by more than 1e-4 (``--no-parity``
skips the checks). Same as ``paddlegan export``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppgan_ext.cli import export as command  # noqa: E402
from ppgan_ext.cli import guarded  # noqa: E402

if __name__ == '__main__':
    parser = command.add_arguments(argparse.ArgumentParser(description=command.HELP))
    sys.exit(guarded(command.run, parser.parse_args()))
