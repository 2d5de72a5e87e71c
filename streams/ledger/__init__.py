"""The verifiable audit ledger: RFC 6962 Merkle tree, proofs, signed checkpoints, auditor."""
