"""The pharmacy's list of open owings (core.dispensing.queries.open_owings_of_organisation)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.dispensing.model import SupplyLine
from core.dispensing.queries import open_owings_of_organisation
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import PermissionDenied
from core.storage.models.organisation import OrganisationKind
from core.users.roles import Role
from core.users.service import NewUser, create_organisation, create_user, sign_in
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
