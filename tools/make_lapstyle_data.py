"""Write the tiny LapStyle data set (scikit-image photos) used by configs/lapstyle_tiny.yaml.

    python tools/make_lapstyle_data.py            # -> data/lapstyle_tiny/{content,style}
    python tools/make_lapstyle_data.py OUT_DIR --size 160
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ppgan_ext  # noqa: E402,F401
from ppgan_ext.datasets.lapstyle_dataset import write_lapstyle_samples  # noqa: E402

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?', default='data/lapstyle_tiny', help='output folder')
    parser.add_argument('--size', type=int, default=160, help='shorter side of the images')
    args = parser.parse_args()
    content, style = write_lapstyle_samples(args.root, args.size)
    print(f'content images: {content}\nstyle image:    {style}')
