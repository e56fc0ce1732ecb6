"""Printable documents (receipt, dispensing label, prescription, CD register, token statement) as PDF bytes."""
