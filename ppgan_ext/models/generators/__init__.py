"""Generators registered into ppgan's GENERATORS."""
