"""vndx."""
