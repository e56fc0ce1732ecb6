"""Product detail: the whole hierarchy around a product (VTM → VMP → AMPs → packs) as plain data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.dmd.cd_schedule import cd_schedule

if TYPE_CHECKING:
    from core.dmd.catalogue import Catalogue, ResolvedId

Detail = dict[str, Any]


def _rows(cat: Catalogue, table: str, sql: str, *params: object) -> list[Detail]:
    return [cat.describe(table, r) for r in cat.conn.execute(sql, params)]


def _one(cat: Catalogue, table: str, sql: str, *params: object) -> Detail | None:
    rows = _rows(cat, table, sql, *params)
    return rows[0] if rows else None


def _vtm(cat: Catalogue, vtmid: int | None) -> Detail | None:
    if vtmid is None:
        return None
    return _one(cat, "vtm", "SELECT * FROM vtm WHERE vtmid = ?", vtmid)


def _vmp(cat: Catalogue, vpid: int) -> Detail:
    vmp = _one(cat, "vmp", "SELECT * FROM vmp WHERE vpid = ?", vpid) or {}
    vmp["ingredients"] = _rows(
        cat,
        "vpi",
        "SELECT vpi.*, ing.nm AS ingredient FROM vpi LEFT JOIN ing ON ing.isid = vpi.isid WHERE vpid = ?",
        vpid,
    )
    vmp["ontology_forms"] = _rows(cat, "ont", "SELECT formcd FROM ont WHERE vpid = ?", vpid)
    vmp["forms"] = _rows(cat, "dform", "SELECT formcd FROM dform WHERE vpid = ?", vpid)
    vmp["routes"] = _rows(cat, "droute", "SELECT routecd FROM droute WHERE vpid = ?", vpid)
    control = _one(cat, "control_info", "SELECT catcd, catdt, cat_prevcd FROM control_info WHERE vpid = ?", vpid)
    vmp["control"] = control
    vmp["cd_schedule"] = cd_schedule(control["catcd"]["code"]) if control else None
    bnf = _one(cat, "bnf_vmp", "SELECT bnf, atc, ddd, ddd_uomcd FROM bnf_vmp WHERE vpid = ?", vpid)
    vmp["bnf"] = bnf
    return vmp


def _ampp(cat: Catalogue, appid: int) -> Detail:
    ampp = _one(cat, "ampp", "SELECT * FROM ampp WHERE appid = ?", appid) or {}
    for key, table in (
        ("price", "price_info"),
        ("prescribing", "prescrib_info"),
        ("reimbursement", "reimb_info"),
        ("appliance_pack", "pack_info"),
    ):
        ampp[key] = _one(cat, table, f"SELECT * FROM {table} WHERE appid = ?", appid)
        if ampp[key]:
            ampp[key].pop("appid", None)
    ampp["gtins"] = [
        {"gtin": r[0], "start_date": r[1], "end_date": r[2], "end_dated": r[2] is not None}
        for r in cat.conn.execute(
            "SELECT gtin, startdt, enddt FROM gtin WHERE amppid = ? ORDER BY enddt IS NOT NULL, startdt DESC",
            (appid,),
        )
    ]
    ampp["combination_contents"] = [
        str(r[0]) for r in cat.conn.execute("SELECT chldappid FROM ampp_ccontent WHERE prntappid = ?", (appid,))
    ]
    return ampp


def _amp(cat: Catalogue, apid: int) -> Detail:
    amp = _one(cat, "amp", "SELECT * FROM amp WHERE apid = ?", apid) or {}
    amp["excipients"] = _rows(
        cat,
        "ap_ing",
        "SELECT ap_ing.isid, ing.nm AS ingredient, strnth, uomcd FROM ap_ing "
        "LEFT JOIN ing ON ing.isid = ap_ing.isid WHERE apid = ?",
        apid,
    )
    amp["licensed_routes"] = _rows(cat, "lic_route", "SELECT routecd FROM lic_route WHERE apid = ?", apid)
    amp["information"] = _one(
        cat, "ap_info", "SELECT sz_weight, colourcd, prod_order_no FROM ap_info WHERE apid = ?", apid
    )
    amp["bnf"] = _one(cat, "bnf_amp", "SELECT bnf FROM bnf_amp WHERE apid = ?", apid)
    amp["packs"] = [
        _ampp(cat, r[0]) for r in cat.conn.execute("SELECT appid FROM ampp WHERE apid = ? ORDER BY nm", (apid,))
    ]
    return amp


def _vmpp(cat: Catalogue, vppid: int) -> Detail:
    vmpp = _one(cat, "vmpp", "SELECT * FROM vmpp WHERE vppid = ?", vppid) or {}
    vmpp["drug_tariff"] = _one(
        cat, "dtinfo", "SELECT pay_catcd, price, dt, prevprice FROM dtinfo WHERE vppid = ?", vppid
    )
    vmpp["combination_contents"] = [
        str(r[0]) for r in cat.conn.execute("SELECT chldvppid FROM vmpp_ccontent WHERE prntvppid = ?", (vppid,))
    ]
    return vmpp


def build_detail(cat: Catalogue, resolved: ResolvedId) -> Detail:
    detail: Detail = {
        "id": str(resolved.id),
        "type": resolved.kind,
        "resolved_from": str(resolved.previous_id) if resolved.previous_id else None,
    }
    conn = cat.conn
    if resolved.kind == "ing":
        detail["ingredient"] = _one(cat, "ing", "SELECT * FROM ing WHERE isid = ?", resolved.id)
        return detail
    if resolved.kind == "vtm":
        detail["vtm"] = _vtm(cat, resolved.id)
        detail["vmps"] = _rows(cat, "vmp", "SELECT vpid, nm, invalid FROM vmp WHERE vtmid = ? ORDER BY nm", resolved.id)
        return detail
    vpid = _vpid_of(cat, resolved)
    vmp = _vmp(cat, vpid)
    detail["vtm"] = _vtm(cat, int(vmp["vtmid"])) if vmp.get("vtmid") else None
    detail["vmp"] = vmp
    # An AMP or AMPP asks about one product: its own AMP only. A VMP or VMPP shows every AMP.
    if resolved.kind in ("amp", "ampp"):
        apid = (
            resolved.id
            if resolved.kind == "amp"
            else conn.execute("SELECT apid FROM ampp WHERE appid = ?", (resolved.id,)).fetchone()[0]
        )
        amp_ids = [apid]
    else:
        amp_ids = [r[0] for r in conn.execute("SELECT apid FROM amp WHERE vpid = ? ORDER BY desc", (vpid,))]
    detail["amps"] = [_amp(cat, apid) for apid in amp_ids]
    if resolved.kind == "vmpp":
        vppids = [resolved.id]
    elif resolved.kind == "ampp":
        vppids = [conn.execute("SELECT vppid FROM ampp WHERE appid = ?", (resolved.id,)).fetchone()[0]]
    else:
        vppids = [r[0] for r in conn.execute("SELECT vppid FROM vmpp WHERE vpid = ? ORDER BY qtyval", (vpid,))]
    detail["vmpps"] = [_vmpp(cat, v) for v in vppids]
    return detail


def _vpid_of(cat: Catalogue, resolved: ResolvedId) -> int:
    sql = {
        "vmp": "SELECT ?",
        "amp": "SELECT vpid FROM amp WHERE apid = ?",
        "vmpp": "SELECT vpid FROM vmpp WHERE vppid = ?",
        "ampp": "SELECT amp.vpid FROM ampp JOIN amp USING (apid) WHERE appid = ?",
    }[resolved.kind]
    return int(cat.conn.execute(sql, (resolved.id,)).fetchone()[0])
