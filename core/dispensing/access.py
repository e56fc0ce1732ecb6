"""Where the signed-in user dispenses: the organisation their dispensings and CD register entries belong to."""

from __future__ import annotations

from core.context import ServiceContext
from core.errors import ValidationError


def organisation_of(ctx: ServiceContext) -> str:
    if ctx.actor.organisation_id is None:
        raise ValidationError("You are not a member of a pharmacy or clinic: ask an admin to add you to one.")
    return ctx.actor.organisation_id
