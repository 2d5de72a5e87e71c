"""Pricing service: the valuation and fee policy, and signed quotes (docs/pricing.md)."""
