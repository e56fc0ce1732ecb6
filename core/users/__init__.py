"""Organisations, users, roles and offline sign-in."""
