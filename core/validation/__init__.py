"""Checks of identifiers and contact details, each raising ValidationError with a plain message."""
