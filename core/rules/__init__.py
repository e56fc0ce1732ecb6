"""UK prescribing rules, each a row of a table, each with its own test (DESIGN.md §5)."""
