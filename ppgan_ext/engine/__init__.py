"""Training entry points built on ppgan's Trainer."""
