"""The one-box patient search: NHS number, date of birth, postcode or its start, name words, or a mix of them.

Every name and postcode condition is a range on a normalised key column (``family_key >= 'smi' AND family_key <
'smj'``), which an index answers directly; there is never a leading-wildcard LIKE. Name words are read several ways
("jane smi" as given + family, or family + given, or one family name such as "van der berg"), each way is one
indexed query in index order with a LIMIT, and the results are merged: exact family-name matches first, then by
family name, given name and date of birth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import InstrumentedAttribute

from core.context import ServiceContext
from core.patients.records import name_key
from core.storage.models import Patient
from core.users.roles import Permission, require

MAX_LIMIT = 500
MAX_TEXT_LENGTH = 200  # a search box, not a document: anything longer is a paste gone wrong
MAX_NAME_WORDS = 4  # more words than this are read only as "given names ... family name" and "family, given"

_NHS = re.compile(r"\d{10}")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_YEAR = re.compile(r"(?:19|20)\d{2}")
_FULL_POSTCODE = re.compile(r"(?:GIR0AA|[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2})")
_OUTWARD = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?")
_INWARD_START = re.compile(r"[0-9][A-Z]{0,2}")


@dataclass(frozen=True)
class NameTerm:
    """One reading of the name words: a family name prefix, and a given name prefix if any."""

    family: str
    given: str | None = None


@dataclass
class ParsedQuery:
    """What the search box text means. ``impossible``: a part that can match nothing (an invalid date)."""

    nhs_number: str | None = None
    dob_from: date | None = None
    dob_to: date | None = None
    postcode_prefix: str | None = None
    postcode_length: int | None = None  # set when an outward code was typed whole ("LS1" is not "LS14")
    names: list[NameTerm] = field(default_factory=list)
    given_only: str | None = None  # one name word: also looked for among given names, after the family matches
    impossible: bool = False

    @property
    def empty(self) -> bool:
        return not (self.nhs_number or self.dob_from or self.postcode_prefix or self.names)


def parse_query(text: str) -> ParsedQuery:
    query = ParsedQuery()
    compact = re.sub(r"[\s-]", "", text)
    if _NHS.fullmatch(compact):
        query.nhs_number = compact
        return query
    tokens = text.replace(",", " , ").split()
    name_parts: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        upper = token.upper()
        following = tokens[i + 1].upper() if i + 1 < len(tokens) else ""
        if _NHS.fullmatch(token):
            query.nhs_number = _agree(query, query.nhs_number, token)
        elif (day_month_year := _DMY.fullmatch(token)) or (iso := _ISO.fullmatch(token)):
            if day_month_year:
                d, m, y = (int(g) for g in day_month_year.groups())
            else:
                assert iso is not None
                y, m, d = (int(g) for g in iso.groups())
            try:
                born = date(y, m, d)
            except ValueError:
                query.impossible = True
            else:
                _set_dob(query, born, born)
        elif _YEAR.fullmatch(token):
            _set_dob(query, date(int(token), 1, 1), date(int(token), 12, 31))
        elif _FULL_POSTCODE.fullmatch(upper):
            _set_postcode(query, upper, None)
        elif _OUTWARD.fullmatch(upper):
            if following and _INWARD_START.fullmatch(following):
                _set_postcode(query, upper + following, len(upper) + 3)
                i += 1
            else:
                _set_postcode(query, upper, len(upper) + 3)
        elif any(ch.isdigit() for ch in token):
            query.impossible = True  # digits that are no NHS number, date or postcode: nothing can match
        else:
            name_parts.append(token)
        i += 1
    _read_names(query, " ".join(name_parts))
    return query


def _agree(query: ParsedQuery, old: str | None, new: str) -> str:
    if old is not None and old != new:
        query.impossible = True
    return new


def _set_dob(query: ParsedQuery, start: date, end: date) -> None:
    if query.dob_from is not None and query.dob_to is not None:
        start, end = max(start, query.dob_from), min(end, query.dob_to)
        if start > end:
            query.impossible = True
    query.dob_from, query.dob_to = start, end


def _set_postcode(query: ParsedQuery, prefix: str, length: int | None) -> None:
    if query.postcode_prefix is not None:
        query.impossible = True  # two postcodes
    query.postcode_prefix, query.postcode_length = prefix, length


def _read_names(query: ParsedQuery, text: str) -> None:
    if "," in text:
        family_text, given_text = text.split(",", 1)
        family, given = name_key(family_text), name_key(given_text.replace(",", " "))
        if family:
            query.names = [NameTerm(family, given or None)]
        elif given:
            query.given_only = given
        return
    words = [key for key in (name_key(w) for w in text.split()) if key]
    if not words:
        return
    if len(words) == 1:
        query.names = [NameTerm(words[0])]
        query.given_only = words[0]
        return
    readings = [NameTerm("".join(words[k:]), "".join(words[:k])) for k in range(len(words) - 1, 0, -1)]
    if len(words) <= MAX_NAME_WORDS:
        readings += [NameTerm("".join(words[:k]), "".join(words[k:])) for k in range(1, len(words))]
        readings.append(NameTerm("".join(words)))
    else:
        readings = [*readings[:1], NameTerm(words[0], "".join(words[1:]))]
    query.names = list(dict.fromkeys(readings))


def _prefix(column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range an index can answer."""
    return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def _filtered(query: ParsedQuery, limit: int) -> Select[tuple[Patient]]:
    statement = select(Patient).where(Patient.deleted_at.is_(None)).limit(limit)
    if query.nhs_number is not None:
        statement = statement.where(Patient.nhs_number == query.nhs_number)
    if query.dob_from is not None and query.dob_to is not None:
        if query.dob_from == query.dob_to:
            statement = statement.where(Patient.date_of_birth == query.dob_from)
        else:
            statement = statement.where(Patient.date_of_birth.between(query.dob_from, query.dob_to))
    if query.postcode_prefix is not None:
        statement = statement.where(_prefix(Patient.postcode_key, query.postcode_prefix))
        if query.postcode_length is not None:
            statement = statement.where(func.length(Patient.postcode_key) == query.postcode_length)
    return statement


_BY_NAME = (Patient.family_key, Patient.given_key, Patient.date_of_birth)


def _name_order(p: Patient) -> tuple[str, str, date]:
    return (p.family_key, p.given_key, p.date_of_birth)


def search_patients(ctx: ServiceContext, text: str, limit: int = 50) -> list[Patient]:
    """Patients matching the search box text (removed patients never), best first, at most ``limit``."""
    require(ctx, Permission.VIEW_PATIENTS)
    limit = max(1, min(limit, MAX_LIMIT))
    query = parse_query(text[:MAX_TEXT_LENGTH])
    if query.impossible or (query.empty and not query.given_only):
        return []
    ranked: dict[str, tuple[tuple[int, str, str, date], Patient]] = {}

    def add(rows: list[Patient], term: NameTerm | None, *, by_given: bool = False) -> None:
        for p in rows:
            if by_given:  # after every family-name match, in the order the given-name query used
                key = (2, p.given_key, p.family_key, p.date_of_birth)
            else:
                key = (0 if term is not None and p.family_key == term.family else 1, *_name_order(p))
            if p.id not in ranked or key < ranked[p.id][0]:
                ranked[p.id] = (key, p)

    with ctx.database.reader() as session:
        if not query.names and not query.given_only:
            add(list(session.execute(_filtered(query, limit).order_by(*_BY_NAME)).scalars()), None)
        for term in query.names:
            statement = _filtered(query, limit).where(_prefix(Patient.family_key, term.family))
            if term.given:
                statement = statement.where(_prefix(Patient.given_key, term.given))
            add(list(session.execute(statement.order_by(*_BY_NAME)).scalars()), term)
        if query.given_only and len(ranked) < limit:
            statement = _filtered(query, limit).where(_prefix(Patient.given_key, query.given_only))
            order = (Patient.given_key, Patient.family_key, Patient.date_of_birth)
            add(list(session.execute(statement.order_by(*order)).scalars()), None, by_given=True)
    return [p for _, p in sorted(ranked.values(), key=lambda kv: kv[0])][:limit]
