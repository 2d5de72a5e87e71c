"""Adapters of the catalog: tables, search index, file profiling."""
