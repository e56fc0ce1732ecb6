"""Prescriptions: drafting, checking against the UK rules, signing, cancelling, expiry."""
