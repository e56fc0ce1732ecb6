"""Gather what the rules need about a prescription (app database and dm+d replica) and run them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.errors import NotFound
from core.prescriptions.products import current_unusable_state, vtm_ingredient_ids, with_related_substances
from core.prescriptions.queries import get_prescription
from core.prescriptions.status import ACTIVE
from core.rules.model import RuleResult
from core.rules.prescribing import ActiveMedicine, AllergyFacts, ItemFacts, PrescriptionFacts, run_rules
from core.storage.models import Prescription, PrescriptionItem
from core.storage.raw import fetch_all, fetch_one
from core.users.roles import Permission, require


def _item_facts(catalogue: Catalogue, item: PrescriptionItem) -> ItemFacts:
    vtm = catalogue.conn.execute("SELECT vtmid FROM vmp WHERE vpid = ?", (int(item.vmp_id),)).fetchone()
    return ItemFacts(
        item_id=item.id,
        name=item.product_name,
        cd_schedule=item.cd_schedule,
        strength=item.strength,
        form=item.form,
        unit=item.unit,
        dose=item.dose,
        quantity=item.quantity,
        quantity_in_words=item.quantity_in_words,
        days_supply=item.days_supply,
        ingredient_ids=frozenset(item.ingredient_ids.split()),
        related_ingredient_ids=with_related_substances(catalogue, item.ingredient_ids.split()),
        vtm_id=str(vtm[0]) if vtm and vtm[0] is not None else None,
        unusable=current_unusable_state(catalogue, item.vmp_id, item.amp_id),
    )


def _allergy_facts(session: Session, catalogue: Catalogue, patient_id: str) -> tuple[AllergyFacts, ...]:
    rows = fetch_all(
        session,
        "SELECT substance_kind, substance_id, substance_name, kind, severity, reaction FROM allergy "
        "WHERE patient_id = ? AND deleted_at IS NULL",
        (patient_id,),
    )
    facts = []
    for substance_kind, substance_id, name, kind, severity, reaction in rows:
        if substance_kind == "vtm":
            ingredients, vtm_id = vtm_ingredient_ids(catalogue, substance_id), substance_id
        else:
            ingredients, vtm_id = {substance_id}, None
        related = with_related_substances(catalogue, ingredients)
        facts.append(AllergyFacts(name, related, vtm_id, kind, severity, reaction))
    return tuple(facts)


def _active_medicines(session: Session, rx: Prescription, ctx: ServiceContext) -> tuple[ActiveMedicine, ...]:
    """Items of the patient's other prescriptions still to be supplied (dates are ISO text: they compare as text)."""
    active = ", ".join(f"'{s.value}'" for s in ACTIVE)
    rows = fetch_all(
        session,
        "SELECT i.product_name, i.ingredient_ids, p.id FROM prescription_item i JOIN prescription p "
        f"ON p.id = i.prescription_id WHERE p.patient_id = ? AND p.id != ? AND p.status IN ({active}) "
        "AND (p.valid_until IS NULL OR p.valid_until >= ?)",
        (rx.patient_id, rx.id, ctx.today().isoformat()),
    )
    return tuple(ActiveMedicine(rx_id, name, frozenset(ingredients.split())) for name, ingredients, rx_id in rows)


def gather_facts(session: Session, ctx: ServiceContext, catalogue: Catalogue, rx: Prescription) -> PrescriptionFacts:
    people = fetch_one(
        session,
        "SELECT p.address, p.postcode, u.registration_number FROM patient p, user_account u "
        "WHERE p.id = ? AND u.id = ?",
        (rx.patient_id, rx.prescriber_id),
    )
    if people is None:
        raise NotFound("The prescription's patient or prescriber is missing.")
    patient_address, postcode, registration = people
    items = tuple(_item_facts(catalogue, item) for item in rx.items)
    allergies = _allergy_facts(session, catalogue, rx.patient_id)
    wanted = {i for item in items for i in item.substances}
    names = {}
    if wanted:
        marks = ",".join("?" * len(wanted))
        names = {
            str(isid): str(nm)
            for isid, nm in catalogue.conn.execute(f"SELECT isid, nm FROM ing WHERE isid IN ({marks})", [*wanted])
        }
    address = ", ".join(part for part in ((patient_address or "").strip(), postcode or "") if part)
    return PrescriptionFacts(
        today=ctx.today(),
        not_before=rx.not_before,
        is_repeat=rx.is_repeat,
        patient_address=address or None,
        prescriber_registration=registration,
        items=items,
        allergies=allergies,
        active_medicines=_active_medicines(session, rx, ctx),
        ingredient_names=names,
    )


def check_prescription(ctx: ServiceContext, catalogue: Catalogue, prescription_id: str) -> list[RuleResult]:
    """Every rule's finding for this prescription now (an empty list: nothing to say)."""
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.reader() as session:
        rx = get_prescription(session, prescription_id)
        return run_rules(gather_facts(session, ctx, catalogue, rx))
