"""The audit worker: the verifiable ledger, usage watch and KPI agents, and the regulators' API."""
