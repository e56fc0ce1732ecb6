"""Product detail (``Catalogue.product_detail``) as HTML for a QTextBrowser: pure Python, no Qt.

Links have the form ``dmd:<id>`` so the browser can open the product they name.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import date
from typing import Any

Detail = dict[str, Any]

KIND_LABELS = {"vtm": "VTM", "vmp": "VMP", "amp": "AMP", "vmpp": "VMPP", "ampp": "AMPP", "ing": "Ingredient"}
KIND_TITLES = {
    "vtm": "Virtual therapeutic moiety",
    "vmp": "Virtual medicinal product",
    "amp": "Actual medicinal product",
    "vmpp": "Virtual medicinal product pack",
    "ampp": "Actual medicinal product pack",
    "ing": "Ingredient substance",
}
_VMP_FLAGS = (("sug_f", "sugar free"), ("glu_f", "gluten free"), ("pres_f", "preservative free"), ("cfc_f", "CFC free"))
_PRESCRIBING_FLAGS = (
    ("sched_1", "Schedule 1 (not on NHS prescription)"),
    ("sched_2", "Schedule 2 (selected list)"),
    ("acbs", "ACBS"),
    ("padm", "personally administered"),
    ("fp10_mda", "FP10 MDA"),
    ("hosp", "hospital only"),
    ("nurse_f", "nurse formulary"),
    ("enurse_f", "nurse extended formulary"),
    ("dent_f", "dental formulary"),
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

STYLE = """
body { color: #1f2933; }
p.h1 { font-size: 14pt; font-weight: 600; margin: 0 0 3px 0; }
p.h2 { font-size: 11pt; font-weight: 600; color: #334e68; margin: 18px 0 6px 0; }
p.h3 { font-size: 10pt; font-weight: 600; margin: 12px 0 2px 0; }
p { margin: 2px 0; }
a { color: #1d5fbf; text-decoration: none; }
.meta { color: #627d98; }
.kind { color: #627d98; font-weight: 600; }
.muted { color: #7b8794; }
.warn { color: #b42318; font-weight: 600; }
.cd { color: #ffffff; background-color: #b42318; font-weight: 600; }
.old { color: #9aa5b1; }
table.facts th { text-align: left; color: #52606d; font-weight: 600; padding: 3px 14px 3px 0; }
table.facts td { padding: 3px 0; }
table.grid { border-collapse: collapse; }
table.grid th { text-align: left; background-color: #eef2f7; color: #334e68; font-weight: 600; padding: 4px 8px; }
table.grid td { padding: 4px 8px; border-bottom: 1px solid #e4e7eb; }
tr.selected td { background-color: #fff7d6; }
"""


def render_detail(detail: Detail) -> str:
    kind = detail["type"]
    body = _render_vtm(detail) if kind == "vtm" else _render_ing(detail) if kind == "ing" else _render_product(detail)
    moved = ""
    if detail.get("resolved_from"):
        moved = f'<p class="meta">The id {_e(detail["resolved_from"])} you asked for is now {_e(detail["id"])}.</p>'
    return f"<html><head><style>{STYLE}</style></head><body>{moved}{body}</body></html>"


# -- the three shapes of detail ----------------------------------------------------------------------------


def _render_vtm(detail: Detail) -> str:
    vtm = detail.get("vtm") or {}
    parts = [_title("vtm", vtm.get("nm", ""), detail["id"], _invalid(vtm))]
    if vtm.get("abbrevnm"):
        parts.append(f'<p class="meta">Abbreviated name: {_e(vtm["abbrevnm"])}</p>')
    parts.append('<p class="h2">Medicines (VMPs)</p>')
    vmps = detail.get("vmps") or []
    if not vmps:
        parts.append('<p class="muted">No virtual medicinal products in this release.</p>')
    for vmp in vmps:
        note = ' <span class="warn">invalid</span>' if vmp.get("invalid") else ""
        parts.append(f"<p>{_link(vmp['vpid'], vmp['nm'])}{note}</p>")
    return "".join(parts)


def _render_ing(detail: Detail) -> str:
    ing = detail.get("ingredient") or {}
    return _title("ing", ing.get("nm", ""), detail["id"], _invalid(ing))


def _render_product(detail: Detail) -> str:
    kind, selected = detail["type"], detail["id"]
    vtm, vmp = detail.get("vtm"), detail.get("vmp") or {}
    amps, vmpps = detail.get("amps") or [], detail.get("vmpps") or []
    name, status = _selected_name_and_status(detail)
    parts = [_title(kind, name, selected, status)]
    trail = [("vtm", vtm["vtmid"], vtm["nm"])] if vtm else []
    if kind != "vmp":
        trail.append(("vmp", vmp.get("vpid"), vmp.get("nm")))
    if kind == "ampp" and amps:
        trail.append(("amp", amps[0].get("apid"), amps[0].get("desc")))
    links = [f'<span class="kind">{KIND_LABELS[k]}</span> {_link(i, n)}' for k, i, n in trail if i]
    if links:
        parts.append('<p class="meta">' + " &nbsp;›&nbsp; ".join(links) + "</p>")
    parts.append(_render_vmp_facts(vmp))
    parts.append(_render_amps(amps, kind, selected))
    parts.append(_render_vmpps(vmpps, vmp.get("nm", ""), kind, selected))
    return "".join(parts)


def _selected_name_and_status(detail: Detail) -> tuple[str, str]:
    kind, selected = detail["type"], detail["id"]
    vmp = detail.get("vmp") or {}
    if kind == "vmp":
        return vmp.get("nm", ""), _vmp_status(vmp)
    if kind == "amp":
        amp: Detail = next((a for a in detail.get("amps") or [] if a.get("apid") == selected), {})
        return amp.get("desc", ""), _amp_status(amp)
    if kind == "vmpp":
        vmpp: Detail = next((v for v in detail.get("vmpps") or [] if v.get("vppid") == selected), {})
        return vmpp.get("nm", ""), _invalid(vmpp)
    pack: Detail = next(
        (p for a in detail.get("amps") or [] for p in a.get("packs") or [] if p.get("appid") == selected), {}
    )
    return pack.get("nm", ""), _pack_status(pack)


# -- VMP: what the medicine is --------------------------------------------------------------------------


def _render_vmp_facts(vmp: Detail) -> str:
    rows: list[tuple[str, str]] = []
    if vmp.get("ingredients"):
        rows.append(("Ingredients", "<br>".join(_ingredient(i) for i in vmp["ingredients"])))
    forms = _descriptions(f.get("formcd") for f in vmp.get("forms") or [])
    if forms:
        rows.append(("Form", forms))
    routes = _descriptions(r.get("routecd") for r in vmp.get("routes") or [])
    if routes:
        rows.append(("Route", routes))
    if vmp.get("udfs") is not None:
        size_unit, dose_unit = _desc(vmp.get("udfs_uomcd")), _desc(vmp.get("unit_dose_uomcd"))
        size = f"{_num(vmp['udfs'])} {size_unit}".strip()
        rows.append(("Unit dose", _e(size if dose_unit in ("", size_unit) else f"{size} per {dose_unit}")))
    rows.append(("Controlled drug", _controlled(vmp)))
    if vmp.get("pres_statcd"):
        rows.append(("Prescribing status", _e(_desc(vmp["pres_statcd"]))))
    if (vmp.get("non_availcd") or {}).get("code") == "0001":
        since = f" since {format_date(vmp['non_availdt'])}" if vmp.get("non_availdt") else ""
        rows.append(("Availability", f'<span class="warn">{_e(_desc(vmp["non_availcd"]))}{_e(since)}</span>'))
    bnf = vmp.get("bnf")
    if bnf:
        if bnf.get("bnf"):
            rows.append(("BNF code", _e(bnf["bnf"])))
        if bnf.get("atc") and bnf["atc"].lower() != "n/a":
            rows.append(("ATC code", _e(bnf["atc"])))
        if bnf.get("ddd") is not None:
            rows.append(("Defined daily dose", _e(f"{_num(bnf['ddd'])} {_desc(bnf.get('ddd_uomcd'))}".strip())))
    flags = [label for key, label in _VMP_FLAGS if vmp.get(key)]
    if flags:
        rows.append(("Properties", _e(", ".join(flags))))
    if vmp.get("nmprev"):
        rows.append(("Previous name", _e(vmp["nmprev"])))
    return f'<p class="h2">Medicine</p>{_facts(rows)}'


def _ingredient(ing: Detail) -> str:
    text = _e(ing.get("ingredient") or f"ingredient {ing.get('isid')}")
    strength = _strength(ing)
    if strength:
        text += f" <b>{_e(strength)}</b>"
    basis = ing.get("basis_strntcd")
    if isinstance(basis, dict) and basis.get("code") == "0002":
        text += ' <span class="muted">(strength of the base)</span>'
    return text


def _strength(ing: Detail) -> str:
    value = ing.get("strnt_nmrtr_val")
    if value is None:
        return ""
    text = f"{_num(value)} {_desc(ing.get('strnt_nmrtr_uomcd'))}".strip()
    per = ing.get("strnt_dnmtr_val")
    if per is not None:
        per_unit = _desc(ing.get("strnt_dnmtr_uomcd"))
        text += f"/{per_unit}" if per == 1 else f" in {_num(per)} {per_unit}".rstrip()
    return text


def _controlled(vmp: Detail) -> str:
    control = vmp.get("control")
    schedule = vmp.get("cd_schedule")
    category = _desc(control.get("catcd")) if control else ""
    if schedule is None:
        return f'<span class="warn">Unknown category: {_e(category)}</span>' if control else "No information"
    if schedule == 0:
        return "Not a controlled drug"
    return f'<span class="cd">&nbsp;CD{schedule}&nbsp;</span> Schedule {schedule} — {_e(category)}'


# -- AMPs and their packs ----------------------------------------------------------------------------------


def _render_amps(amps: list[Detail], kind: str, selected: str) -> str:
    if not amps:
        return '<p class="h2">Products</p><p class="muted">No actual products (AMPs) in this release.</p>'
    parts = ['<p class="h2">Products and packs</p>']
    for amp in amps:
        packs = amp.get("packs") or []
        if kind == "vmpp":  # only this pack size of every product
            packs = [p for p in packs if p.get("vppid") == selected]
            if not packs:
                continue
        status = _amp_status(amp)
        warn = f' <span class="warn">{_e(status)}</span>' if status else ""
        parts.append(f'<p class="h3">{_link(amp.get("apid"), amp.get("desc", ""))}{warn}</p>')
        facts = [f"Supplier: <b>{_e(_desc(amp.get('suppcd')))}</b>"]
        licensing = _desc(amp.get("lic_authcd"))
        if licensing and licensing != "None":
            facts.append(f"Licensing authority: {_e(licensing)}")
        restriction = amp.get("avail_restrictcd")
        if restriction and restriction.get("code") not in ("0001", "0009"):
            facts.append(f"Availability: {_e(_desc(restriction))}")
        if amp.get("parallel_import"):
            facts.append("Parallel import")
        parts.append(f'<p class="meta">{" · ".join(facts)}</p>')
        parts.append(_packs_table(packs, amp.get("desc", ""), selected if kind == "ampp" else None))
    return "".join(parts)


def _packs_table(packs: list[Detail], product_name: str, selected: str | None) -> str:
    if not packs:
        return '<p class="muted">No packs.</p>'
    rows = []
    for pack in packs:
        attrs = ' class="selected"' if pack.get("appid") == selected else ""
        notes = [label for key, label in _PRESCRIBING_FLAGS if (pack.get("prescribing") or {}).get(key)]
        status = _pack_status(pack)
        under = _e(", ".join(notes))
        if status:
            under = f'<span class="warn">{_e(status)}</span>' + (f" · {under}" if under else "")
        name = _link(pack.get("appid"), _pack_size(pack.get("nm", ""), product_name)) + (
            f'<br><span class="muted">{under}</span>' if under else ""
        )
        rows.append(
            f"<tr{attrs}><td>{name}</td><td>{_price(pack.get('price'))}</td>"
            f"<td>{_e(_desc(pack.get('legal_catcd')))}</td><td>{_gtins(pack.get('gtins') or [])}</td></tr>"
        )
    head = "<tr><th>Pack</th><th>Price</th><th>Legal category</th><th>Barcodes (GTIN)</th></tr>"
    return f'<table class="grid" width="100%" cellspacing="0">{head}{"".join(rows)}</table>'


def _price(price: Detail | None) -> str:
    if not price or price.get("price") is None:
        return '<span class="muted">no price</span>'
    basis = price.get("price_basiscd") or {}
    if price["price"] == 0 and basis.get("code") != "0001":
        return f'<span class="muted">{_e(_desc(basis) or "no price")}</span>'
    text = f"<b>{_money(price['price'])}</b>"
    if basis.get("code") not in (None, "0001"):
        text += f'<br><span class="muted">{_e(_desc(basis))}</span>'
    return text


def _gtins(gtins: list[Detail]) -> str:
    if not gtins:
        return '<span class="muted">none</span>'
    lines = []
    for g in gtins:
        if g.get("end_dated"):
            lines.append(f'<span class="old">{_e(g["gtin"])} (ended {_e(format_date(g.get("end_date")))})</span>')
        else:
            lines.append(_e(g["gtin"]))
    return "<br>".join(lines)


# -- VMPPs and the Drug Tariff ---------------------------------------------------------------------------------


def _render_vmpps(vmpps: list[Detail], vmp_name: str, kind: str, selected: str) -> str:
    if not vmpps:
        return ""
    rows = []
    for vmpp in vmpps:
        attrs = ' class="selected"' if kind == "vmpp" and vmpp.get("vppid") == selected else ""
        status = _invalid(vmpp)
        warn = f' <span class="warn">{_e(status)}</span>' if status else ""
        tariff = vmpp.get("drug_tariff")
        if tariff and tariff.get("price") is not None:
            price = f"<b>{_money(tariff['price'])}</b>"
            category = _e(_desc(tariff.get("pay_catcd")))
            if tariff.get("dt"):
                category += f'<br><span class="muted">from {_e(format_date(tariff["dt"]))}</span>'
        else:
            price, category = '<span class="muted">not in the Drug Tariff</span>', ""
        rows.append(
            f"<tr{attrs}><td>{_link(vmpp.get('vppid'), _pack_size(vmpp.get('nm', ''), vmp_name))}{warn}</td>"
            f"<td>{price}</td><td>{category}</td></tr>"
        )
    head = "<tr><th>Pack</th><th>Drug Tariff price</th><th>Category</th></tr>"
    return (
        f'<p class="h2">Packs (VMPPs) and Drug Tariff</p><table class="grid" width="100%" cellspacing="0">'
        f"{head}{''.join(rows)}</table>"
    )


# -- small pieces -------------------------------------------------------------------------------------------------


def _pack_size(pack_name: str, product_name: str) -> str:
    """A pack's name without its product's name before it: "500 ml 1 x 500ml bottle"."""
    rest = pack_name[len(product_name) :].strip() if product_name and pack_name.startswith(product_name) else ""
    return rest or pack_name


def _title(kind: str, name: str, product_id: str, status: str) -> str:
    warn = f' <span class="warn">{_e(status)}</span>' if status else ""
    return (
        f'<p class="h1">{_e(name)}</p>'
        f'<p class="meta"><span class="kind">{KIND_LABELS[kind]}</span> · {KIND_TITLES[kind]} · '
        f"dm+d id {_e(product_id)}{warn}</p>"
    )


def _vmp_status(vmp: Detail) -> str:
    return _invalid(vmp) or ("unavailable" if (vmp.get("non_availcd") or {}).get("code") == "0001" else "")


def _amp_status(amp: Detail) -> str:
    return _invalid(amp) or ("unavailable" if (amp.get("avail_restrictcd") or {}).get("code") == "0009" else "")


def _pack_status(pack: Detail) -> str:
    if _invalid(pack):
        return "invalid"
    if (pack.get("disccd") or {}).get("code") == "0001":
        return "discontinued" + (f" {format_date(pack['discdt'])}" if pack.get("discdt") else "")
    return ""


def _invalid(record: Detail) -> str:
    return "invalid" if record.get("invalid") else ""


def _facts(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="facts" cellspacing="0">{body}</table>'


def _link(product_id: object, text: object) -> str:
    return f'<a href="dmd:{_e(product_id)}">{_e(text)}</a>'


def _descriptions(coded: Iterable[object]) -> str:
    return _e(", ".join(d for d in (_desc(c) for c in coded) if d))


def _desc(coded: object) -> str:
    if isinstance(coded, dict):
        return str(coded.get("description") or "")
    return "" if coded is None else str(coded)


def _money(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(int(pence)), 100)
    return f"{sign}£{pounds:,}.{rest:02d}"


def _num(value: float | int) -> str:
    return f"{value:g}"


def format_date(iso: str | None) -> str:
    """An ISO date as 21 Jul 2013 (English month names whatever the locale)."""
    if not iso:
        return ""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))
