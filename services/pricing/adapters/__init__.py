"""Adapters of the pricing service: its tables and its signing key."""
