"""Application layer: load a model and run it on images, with typed options; the shells (cli, serve) call it."""
