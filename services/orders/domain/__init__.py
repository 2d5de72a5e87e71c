"""Pure rules of orders: the order state machine, quote terms, settlement lines."""
