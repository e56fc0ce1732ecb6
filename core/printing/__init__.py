"""Printouts from records: map app-database rows to the document models, render, audit the print."""
