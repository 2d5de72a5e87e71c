"""The orders HTTP API."""
