"""HTTP entrypoint of the catalog."""
