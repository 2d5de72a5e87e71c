"""Integration tests of the pricing service."""
