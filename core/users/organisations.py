"""Organisations as an admin keeps them: the details printed on labels, receipts and prescriptions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import NotFound, ValidationError
from core.outbox import enqueue
from core.storage.models import Organisation
from core.users.roles import Permission, require
from core.users.service import public_fields
from core.validation.contact import normalise_phone, normalise_postcode


@dataclass(frozen=True)
class OrganisationDetails:
    name: str
    address: str  # lines separated by newlines
    postcode: str
    phone: str


def list_organisations(ctx: ServiceContext) -> list[Organisation]:
    require(ctx, Permission.MANAGE_USERS)
    with ctx.database.reader() as session:
        return list(session.execute(select(Organisation).order_by(Organisation.kind, Organisation.name)).scalars())


def update_organisation(ctx: ServiceContext, organisation_id: str, details: OrganisationDetails) -> Organisation:
    """Change what is printed for an organisation. Postcode and phone are checked as at creation; audited with
    the details before and after (documents already printed keep the old ones, as paper does)."""
    require(ctx, Permission.MANAGE_USERS)
    name = details.name.strip()
    address = "\n".join(line.strip() for line in details.address.splitlines() if line.strip())
    if not name or not address:
        raise ValidationError("An organisation needs a name and an address: both are printed on labels.")
    postcode, phone = normalise_postcode(details.postcode), normalise_phone(details.phone)
    with ctx.database.transaction() as session:
        org = session.get(Organisation, organisation_id)
        if org is None:
            raise NotFound("No such organisation.")
        before = public_fields(org)
        org.name, org.address, org.postcode, org.phone = name, address, postcode, phone
        if public_fields(org) == before:
            return org
        org.updated_at = ctx.now()
        session.flush()
        record_event(
            session, ctx, "organisation.update", "organisation", org.id, before=before, after=public_fields(org)
        )
        enqueue(session, ctx, org)
    return org
