"""Helpers for tests that prescribe: a patient, a token pool, products from the demo catalogue by kind."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

from sqlalchemy import select

from core.dmd.catalogue import Catalogue
from core.storage.models import Patient
from core.tokens.ledger import add_credit, create_account
from core.validation.nhs_number import nhs_check_digit
from tests.clinic import Clinic


def _valid_nhs_numbers() -> Iterator[str]:
    for body in itertools.count(943476591):
        check = nhs_check_digit(f"{body:09d}")
        if check is not None:
            yield f"{body:09d}{check}"


_NHS_NUMBERS = _valid_nhs_numbers()


def add_patient(
    clinic: Clinic,
    *,
    given: str = "Alice",
    family: str = "Jones",
    nhs_number: str | None = None,
    address: str | None = "3 Park Row\nLeeds",
) -> Patient:
    """A patient row written directly: these tests are about prescribing, not registration."""
    now = clinic.clock()
    nhs_number = nhs_number or next(_NHS_NUMBERS)
    patient = Patient(
        organisation_id=clinic.clinic.id,
        nhs_number=nhs_number,
        given_name=given,
        family_name=family,
        date_of_birth=date(1970, 5, 17),
        address=address,
        postcode="LS1 5AB",
        family_key=family.lower(),
        given_key=given.lower(),
        postcode_key="LS15AB",
        created_at=now,
        updated_at=now,
    )
    with clinic.database.transaction() as session:
        session.add(patient)
    return patient


def fund_clinic(clinic: Clinic, tokens: int = 1000, overdraft_limit: int = 0) -> str:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id, overdraft_limit=overdraft_limit)
    if tokens:
        add_credit(clinic.admin, account.id, tokens, "Opening balance")
    return account.id


def vmp_with_schedule(catalogue: Catalogue, schedule_codes: tuple[str, ...] | None) -> str:
    """A valid, available VMP with a form and strength whose CD category is one of the codes (None: not a CD)."""
    where = "c.catcd = '0000'" if schedule_codes is None else f"c.catcd IN ({','.join('?' * len(schedule_codes))})"
    row = catalogue.conn.execute(
        "SELECT v.vpid FROM vmp v JOIN control_info c USING (vpid) JOIN dform USING (vpid) "
        "WHERE v.invalid IS NULL AND v.non_availcd IS NULL AND EXISTS "
        "(SELECT 1 FROM vpi WHERE vpi.vpid = v.vpid AND vpi.strnt_nmrtr_val IS NOT NULL) "
        f"AND {where} ORDER BY v.vpid LIMIT 1",
        schedule_codes or (),
    ).fetchone()
    assert row, f"the demo catalogue has no VMP in {schedule_codes}"
    return str(row[0])


def patient_ids(clinic: Clinic) -> list[str]:
    with clinic.database.reader() as session:
        return list(session.execute(select(Patient.id)).scalars())
