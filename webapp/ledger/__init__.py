"""ledger aggregate."""
