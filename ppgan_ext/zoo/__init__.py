"""Named pretrained models: what each one is, where its weights come from and how it is run."""
