"""Appwrite's events, as far as functions see them (src/Appwrite/Event/Event.php, the Functions worker).

A row written through TablesDB raises ``databases.<db>.tables.<table>.rows.<row>.<action>`` (action ``create``,
``update``, ``upsert`` or ``delete``); rows written through a transaction raise theirs when it commits, one per
staged operation, in order. A function whose ``events`` hold a matching name runs asynchronously (trigger
``event``): ``x-appwrite-trigger: event``, ``x-appwrite-event`` the event's full name, the row (after the write; for
a delete, as it was) as the JSON body, POST to ``/``, and a dynamic key of the function's scopes as for any run.

Matching follows ``Event::generateEvents``: an event stands for every name made from it by replacing any of its ids
by ``*``, with or without the action, and for its parents (``databases.<db>.tables.<table>``, ``databases.<db>``).
So ``databases.rxdesk.tables.owing.rows.*.update``, ``databases.*.tables.*.rows.*`` and ``databases.rxdesk`` all
match an update of an owing row; ``…rows.*.*`` does not (actions are never wildcards). The stand-in emits the
TablesDB names only, not the legacy ``collections``/``documents`` names Appwrite also raises for old listeners.
"""

from __future__ import annotations

from itertools import product


def row_event(database_id: str, table_id: str, row_id: str, action: str) -> str:
    return f"databases.{database_id}.tables.{table_id}.rows.{row_id}.{action}"


def _names(parts: list[tuple[str, str]], action: str | None) -> set[str]:
    """Every name of ``type.id`` pairs (an id kept or ``*``), then the action if any."""
    names = set()
    for choice in product((False, True), repeat=len(parts)):
        segments = [f"{kind}.{'*' if star else value}" for (kind, value), star in zip(parts, choice, strict=True)]
        names.add(".".join(segments) + (f".{action}" if action else ""))
    return names


def generated(event: str) -> set[str]:
    """The names an event answers to (``databases.db.tables.t.rows.r.update`` → 1 + … names, wildcards included)."""
    segments = event.split(".")
    action = segments[-1] if len(segments) % 2 == 1 else None
    pairs = segments[:-1] if action else segments
    parts = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    names: set[str] = set()
    names |= _names(parts, action) if action else set()
    for depth in range(len(parts), 0, -1):  # without the action, then each parent
        names |= _names(parts[:depth], None)
    return names


def subscribed(subscriptions: list[str], event: str) -> bool:
    return any(_matches(subscription.split("."), event.split(".")) for subscription in subscriptions)


def _matches(subscription: list[str], event: list[str]) -> bool:
    """Whether ``subscription`` is one of the names ``generated(event)`` gives, without making them all (a row
    event has 2**3 names with its action and more for its parents; every write of a busy table asks)."""
    has_action = len(event) % 2 == 1
    pairs = event[:-1] if has_action else event
    if len(subscription) == len(event) and has_action:
        if subscription[-1] != event[-1]:
            return False
        subscription = subscription[:-1]
    elif len(subscription) % 2 or len(subscription) > len(pairs) or not subscription:
        return False
    compared = zip(subscription, pairs, strict=False)  # a parent's name is a prefix
    return all(mine == theirs or (i % 2 == 1 and mine == "*") for i, (mine, theirs) in enumerate(compared))
