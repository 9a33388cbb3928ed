"""Application layer: library classes that load models and run them on images.

The command line (:mod:`ppgan_ext.cli`) and the web app (:mod:`ppgan_ext.serve`)
are thin shells over these modules and never import each other.
"""
