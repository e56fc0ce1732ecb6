"""Prepaid tokens: accounts, the cost table, the append-only ledger, statements."""
