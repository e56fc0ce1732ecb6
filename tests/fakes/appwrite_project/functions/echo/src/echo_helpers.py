"""Imported by main.py as a sibling module, as a function's own code would be."""


def describe(method: str, path: str) -> str:
    return f"{method} {path}"
