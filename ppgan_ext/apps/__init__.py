"""Application layer: load a model and run it on images, with typed options.

The shells (``cli``, ``serve``) parse their inputs and call these.
"""
