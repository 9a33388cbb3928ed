"""Command-line options shared by the two shells.

``paddlegan``'s commands (:mod:`ppgan_ext.cli`) and the web app's launcher
(:mod:`ppgan_ext.serve.command`) build their parsers from these, so neither
shell imports the other: :mod:`.spelling` (hyphenated flags with underscore
aliases, deprecated flags) and :mod:`.runtime` (``--device``, ``--backend``,
``--precision``).
"""
