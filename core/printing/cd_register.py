"""Print a controlled drug's register (one drug, strength and form) for inspection."""

from __future__ import annotations

from datetime import date

from core.context import UK, ServiceContext
from core.dispensing.cd_register import register_entries
from core.dispensing.register_view import counterparty, prescriber, reference, user_names
from core.dmd.catalogue import Catalogue
from core.dmd.errors import DmdError
from core.documents.cd_register_page import render_cd_register
from core.documents.model import CdEntryKind, CdRegister
from core.documents.model import CdRegisterEntry as CdRegisterLine
from core.errors import NotFound, ValidationError
from core.prescriptions.products import product_snapshot
from core.printing.details import organisation_details
from core.storage.models import Organisation


def print_cd_register(
    ctx: ServiceContext, catalogue: Catalogue, product_vmp_id: str, start: date | None = None, end: date | None = None
) -> bytes:
    entries = register_entries(ctx, product_vmp_id, start, end)
    if not entries:
        raise NotFound("This pharmacy has no register entries for that product in that period.")
    try:
        product = product_snapshot(catalogue, product_vmp_id)
    except DmdError as exc:
        raise ValidationError(str(exc)) from exc
    with ctx.database.reader() as session:
        organisation = organisation_details(session.get_one(Organisation, entries[0].organisation_id))
    names = user_names(ctx)
    lines = [
        CdRegisterLine(
            recorded_at=entry.created_at.astimezone(UK),
            kind=CdEntryKind(entry.kind),
            counterparty=counterparty(entry),
            prescriber=prescriber(entry),
            quantity=entry.quantity,
            balance=entry.balance,
            entered_by=names.get(entry.entered_by, entry.entered_by),
            reference=reference(entry),
        )
        for entry in entries
    ]
    try:
        register = CdRegister(
            organisation=organisation,
            drug_name=product.name,
            strength=product.strength or "",
            form=product.form or "",
            unit=product.unit,
            entries=tuple(lines),
        )
        return render_cd_register(register)
    except ValueError as exc:
        raise ValidationError(f"The register cannot be printed: {exc}") from exc
