"""Unit tests of the pricing domain."""
