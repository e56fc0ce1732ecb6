"""The pharmacy's list of open owings (core.dispensing.queries.open_owings_of_organisation), and owings marked ready
for collection (core.dispensing.owings.mark_owing_ready)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.log import audit_trail
from core.dispensing.model import OWING_MOVES, OwingStatus, SupplyLine, check_owing_move
from core.dispensing.owings import mark_owing_ready
from core.dispensing.queries import open_owings_of_organisation
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import InvalidTransition, NotFound, PermissionDenied
from core.prescriptions.lifecycle import expire_prescriptions
from core.storage.models import OutboxEntry, Owing
from core.storage.models.organisation import OrganisationKind
from core.users.roles import Role
from core.users.service import NewUser, create_organisation, create_user, sign_in
from sync.tables import STATUS_RANKS
from tests.clinic import PASSWORD, WORKSTATION, Clinic
from tests.prescribing_helpers import add_patient
from tests.test_dispensing import NOT_CD, SCHEDULE_4, ready, sign, vmp_with_schedule


def test_the_list_holds_what_this_pharmacy_owes_soonest_first(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    patient = ready(clinic)
    plain = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    cd = sign(clinic, demo_catalogue, add_patient(clinic, given="Bob", family="Hale").id,
              [vmp_with_schedule(demo_catalogue, SCHEDULE_4)])  # fmt: skip
    assert open_owings_of_organisation(clinic.pharmacist) == []  # nothing dispensed, nothing owed yet
    dispense_items(clinic.pharmacist, demo_catalogue, plain.id, [SupplyLine(plain.items[0].id, 20)])
    dispense_items(clinic.pharmacist, demo_catalogue, cd.id, [SupplyLine(cd.items[0].id, 10)])

    owings = open_owings_of_organisation(clinic.technician)  # the technician sees the list too
    assert [o.prescription_id for o in owings] == [cd.id, plain.id]  # the Schedule 4 owing ends after 28 days
    first, second = owings
    assert first.patient_name == "HALE, Bob" and first.owing.quantity == Decimal(18)
    assert first.owing.product_name == cd.items[0].product_name and first.owing.expires_on < second.owing.expires_on
    assert second.patient_name == "JONES, Alice" and second.owing.quantity == Decimal(8)
    assert first.owed_since == clinic.clock()

    dispense_items(clinic.pharmacist, demo_catalogue, plain.id, [SupplyLine(plain.items[0].id, 8)])
    assert [o.prescription_id for o in open_owings_of_organisation(clinic.pharmacist)] == [cd.id]
    clinic.clock.advance(days=30)  # past the Schedule 4 owing's last day: it can no longer be supplied
    assert open_owings_of_organisation(clinic.pharmacist) == []


def test_another_pharmacy_does_not_see_them(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    patient = ready(clinic)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 1)])
    other = create_organisation(clinic.admin, OrganisationKind.PHARMACY, "Other Pharmacy", "5 Briggate\nLeeds",
                                "LS1 6HD", "0113 496 0202")  # fmt: skip
    create_user(clinic.admin, NewUser("other", "Olu Other", Role.PHARMACIST, PASSWORD, organisation_id=other.id))
    elsewhere = sign_in(clinic.database, "other", PASSWORD, WORKSTATION, clinic.clock)
    assert open_owings_of_organisation(elsewhere) == []
    assert len(open_owings_of_organisation(clinic.pharmacist)) == 1
    with pytest.raises(PermissionDenied):
        open_owings_of_organisation(clinic.admin)


# -- ready for collection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", list(OwingStatus))
@pytest.mark.parametrize("target", list(OwingStatus))
def test_an_owing_moves_only_as_the_table_says_and_only_forward(current: OwingStatus, target: OwingStatus) -> None:
    if target in OWING_MOVES[current]:
        check_owing_move(current.value, target)
        ranks = STATUS_RANKS["owing"]
        assert ranks[target.value] > ranks[current.value]  # the server's state machine agrees
    else:
        with pytest.raises(InvalidTransition, match="That owing"):
            check_owing_move(current.value, target)


def _owed(
    clinic: Clinic, catalogue: Catalogue, schedule: tuple[str, ...] | None = NOT_CD, *, first: bool = True
) -> tuple[str, str]:
    patient = ready(clinic) if first else add_patient(clinic, given="Bob", family="Hale")
    rx = sign(clinic, catalogue, patient.id, [vmp_with_schedule(catalogue, schedule)])
    result = dispense_items(clinic.pharmacist, catalogue, rx.id, [SupplyLine(rx.items[0].id, 20)])
    return rx.id, result.owings[0].owing_id


def test_marking_an_owing_ready_is_audited_queued_and_shown(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id, owing_id = _owed(clinic, demo_catalogue)
    with pytest.raises(PermissionDenied):
        mark_owing_ready(clinic.technician, owing_id)
    info = mark_owing_ready(clinic.pharmacist, owing_id)
    assert (info.owing_id, info.status, info.quantity) == (owing_id, "ready", Decimal(8))
    [listed] = open_owings_of_organisation(clinic.pharmacist)
    assert listed.owing.status == "ready" and listed.prescription_id == rx_id
    with pytest.raises(InvalidTransition, match="ready for collection already"):
        mark_owing_ready(clinic.pharmacist, owing_id)
    with pytest.raises(NotFound):
        mark_owing_ready(clinic.pharmacist, "0" * 32)
    with clinic.database.reader() as session:
        [event] = [e for e in audit_trail(session, "owing", owing_id) if e.action == "owing.ready"]
        assert json.loads(event.before) == {"status": "open"} and json.loads(event.after)["status"] == "ready"
        queued = session.execute(select(OutboxEntry).where(OutboxEntry.row_id == owing_id)).scalars().all()
        assert [(q.operation, json.loads(q.payload)["status"]) for q in queued] == [
            ("create", "open"),
            ("update", "ready"),
        ]


def test_a_ready_owing_is_supplied_like_an_open_one(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id, owing_id = _owed(clinic, demo_catalogue)
    mark_owing_ready(clinic.pharmacist, owing_id)
    with clinic.database.reader() as session:
        item_id = session.get_one(Owing, owing_id).item_id
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx_id, [SupplyLine(item_id, 8)])
    assert result.prescription_status == "dispensed" and result.owings == ()
    with clinic.database.reader() as session:
        assert session.get_one(Owing, owing_id).status == "supplied"
    assert open_owings_of_organisation(clinic.pharmacist) == []


def test_a_ready_owing_expires_like_an_open_one_and_cannot_be_made_ready_late(
    clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    _rx_id, ready_id = _owed(clinic, demo_catalogue, SCHEDULE_4)
    _other_rx, open_id = _owed(clinic, demo_catalogue, SCHEDULE_4, first=False)
    mark_owing_ready(clinic.pharmacist, ready_id)
    clinic.clock.advance(days=30)  # past the Schedule 4 owings' last day
    with pytest.raises(InvalidTransition, match="expired on"):
        mark_owing_ready(clinic.pharmacist, open_id)
    expire_prescriptions(clinic.pharmacist)
    with clinic.database.reader() as session:
        assert session.get_one(Owing, ready_id).status == "expired"
        [event] = [e for e in audit_trail(session, "owing", ready_id) if e.action == "owing.expire"]
        assert json.loads(event.before) == {"status": "ready"}


def test_only_the_pharmacy_that_owes_it_marks_it_ready(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    _rx_id, owing_id = _owed(clinic, demo_catalogue)
    other = create_organisation(clinic.admin, OrganisationKind.PHARMACY, "Other Pharmacy", "5 Briggate\nLeeds",
                                "LS1 6HD", "0113 496 0202")  # fmt: skip
    create_user(clinic.admin, NewUser("other", "Olu Other", Role.PHARMACIST, PASSWORD, organisation_id=other.id))
    elsewhere = sign_in(clinic.database, "other", PASSWORD, WORKSTATION, clinic.clock)
    with pytest.raises(InvalidTransition, match="another pharmacy's"):
        mark_owing_ready(elsewhere, owing_id)
