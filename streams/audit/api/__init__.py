"""HTTP API of the audit service: records, proofs, checkpoints, the live feed, KPIs."""
