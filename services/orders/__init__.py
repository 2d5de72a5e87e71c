"""orders: from a signed quote to a paid order; payments (Stripe or local), settlement ledger."""
