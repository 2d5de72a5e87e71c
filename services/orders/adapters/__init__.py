"""Adapters of orders: tables and repositories, payment gateways."""
