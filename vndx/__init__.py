"""The operator's side of vndx: the ``vndx`` command, the embedded stack launcher, demo data."""
