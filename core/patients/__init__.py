"""Patients: registration and edits, the one-box search, allergies, medication history and CSV import."""
