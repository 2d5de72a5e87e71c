"""HTTP API of the access service."""
