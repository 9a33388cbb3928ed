"""Run an exported ppgan-ext model over an image or a folder (Paddle Inference, ONNX Runtime
or OpenVINO).

    python tools/inference.py --model-dir inference_model/demo_x4 --input lq/ --output sr/ \
        --gt hr/ --tile 256 --tile-overlap 16 [--backend openvino --precision bf16]

Same flags as ``paddlegan infer`` (see ``--help``).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppgan_ext.cli import guarded  # noqa: E402
from ppgan_ext.cli import infer as command  # noqa: E402
from ppgan_ext.flags.spelling import FlagParser  # noqa: E402

if __name__ == '__main__':
    parser = FlagParser(description=command.HELP)   # --model-dir, --model_dir: as paddlegan
    command.add_arguments(parser)
    sys.exit(guarded(command.run, parser.parse_args()))
