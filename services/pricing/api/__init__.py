"""HTTP API of the pricing service."""
