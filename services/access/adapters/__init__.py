"""Adapters of the access service: tables, object storage, the DuckDB sandbox."""
