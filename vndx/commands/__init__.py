"""Sub-commands of `vndx`, one module per area (policy, price, audit, outbox, ...)."""
