"""Product detail as readable plain text lines, for the command line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SCHEDULE_TEXT = {
    0: "not a controlled drug",
    1: "Schedule 1",
    2: "Schedule 2",
    3: "Schedule 3",
    4: "Schedule 4",
    5: "Schedule 5",
}


def _code(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("description") or value.get("code"))
    return "" if value is None else str(value)


def pounds(pence: int | None) -> str:
    return "no price" if pence is None else f"£{pence / 100:,.2f}"


def _strength(ing: dict[str, Any]) -> str:
    value = ing.get("strnt_nmrtr_val")
    if value is None:
        return ""
    text = f"{value:g}{_code(ing.get('strnt_nmrtr_uomcd'))}"
    if ing.get("strnt_dnmtr_val") is not None:
        text += f"/{ing['strnt_dnmtr_val']:g}{_code(ing.get('strnt_dnmtr_uomcd'))}"
    return text


def detail_lines(detail: dict[str, Any]) -> Iterator[str]:
    if detail.get("resolved_from"):
        yield f"(id {detail['resolved_from']} is a previous id of {detail['id']})"
    if detail["type"] == "ing":
        ing = detail["ingredient"]
        yield f"Ingredient {ing['nm']} [{ing['isid']}]"
        return
    vtm = detail.get("vtm")
    if vtm:
        yield f"VTM  {vtm['nm']} [{vtm['vtmid']}]"
    if detail["type"] == "vtm":
        for vmp in detail.get("vmps", []):
            yield f"  VMP  {vmp['nm']} [{vmp['vpid']}]"
        return
    vmp = detail["vmp"]
    yield f"VMP  {vmp['nm']} [{vmp['vpid']}]"
    for ing in vmp.get("ingredients", []):
        yield f"     ingredient: {ing.get('ingredient') or ing['isid']} {_strength(ing)}".rstrip()
    forms = ", ".join(_code(f["formcd"]) for f in vmp.get("forms", []))
    routes = ", ".join(_code(r["routecd"]) for r in vmp.get("routes", []))
    yield f"     form: {forms or '-'}; route: {routes or '-'}"
    schedule = vmp.get("cd_schedule")
    yield f"     controlled drug: {SCHEDULE_TEXT.get(schedule, 'unknown category') if schedule is not None else '-'}"
    if vmp.get("bnf"):
        bnf = vmp["bnf"]
        yield f"     BNF {bnf.get('bnf', '-')}, ATC {bnf.get('atc', '-')}"
    for amp in detail.get("amps", []):
        yield f"  AMP  {amp['desc']} [{amp['apid']}]"
        for pack in amp.get("packs", []):
            price = (pack.get("price") or {}).get("price")
            legal = _code(pack.get("legal_catcd"))
            yield f"       pack {pack['nm']} [{pack['appid']}] {legal} {pounds(price)}"
            for g in pack.get("gtins", []):
                yield f"            GTIN {g['gtin']}{' (end-dated ' + g['end_date'] + ')' if g['end_dated'] else ''}"
    for vmpp in detail.get("vmpps", []):
        tariff = vmpp.get("drug_tariff") or {}
        category = _code(tariff.get("pay_catcd")) if tariff else "-"
        yield f"  VMPP {vmpp['nm']} [{vmpp['vppid']}] Drug Tariff: {category} {pounds(tariff.get('price'))}"
