"""Unit tests of the pricing service and its commands (nothing running)."""
