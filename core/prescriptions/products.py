"""What is prescribed, read from the dm+d replica: the snapshot an item keeps, and the product's current state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.dmd.catalogue import Catalogue
from core.dmd.cd_schedule import cd_schedule
from core.errors import ValidationError


@dataclass(frozen=True)
class ProductSnapshot:
    vmp_id: str
    amp_id: str | None
    name: str
    strength: str | None
    form: str | None
    unit: str
    cd_schedule: int | None
    ingredient_ids: tuple[str, ...]
    vtm_id: str | None
    unusable: str | None  # 'invalid', 'discontinued', 'not available': why it cannot be prescribed now


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def product_snapshot(catalogue: Catalogue, product_id: str) -> ProductSnapshot:
    """A VMP or AMP by dm+d id (old ids followed to the current one). Raises ValidationError for anything else."""
    resolved = catalogue.resolve_id(product_id)
    if resolved.kind not in ("vmp", "amp"):
        raise ValidationError(f"{product_id} is a {resolved.kind.upper()}: prescribe a VMP or an AMP.")
    conn = catalogue.conn
    amp = None
    if resolved.kind == "amp":
        amp = conn.execute("SELECT * FROM amp WHERE apid = ?", (resolved.id,)).fetchone()
        vpid = int(amp["vpid"])
    else:
        vpid = resolved.id
    vmp = conn.execute("SELECT * FROM vmp WHERE vpid = ?", (vpid,)).fetchone()
    if vmp is None:
        raise ValidationError(f"The catalogue has no VMP {vpid} for {product_id}.")
    ingredients = conn.execute("SELECT * FROM vpi WHERE vpid = ? ORDER BY isid", (vpid,)).fetchall()
    strengths = []
    for vpi in ingredients:
        if vpi["strnt_nmrtr_val"] is None:
            continue
        text = _num(vpi["strnt_nmrtr_val"]) + catalogue.lookup("UNIT_OF_MEASURE", str(vpi["strnt_nmrtr_uomcd"]))
        if vpi["strnt_dnmtr_val"] is not None:
            den = catalogue.lookup("UNIT_OF_MEASURE", str(vpi["strnt_dnmtr_uomcd"]))
            text += f"/{_num(vpi['strnt_dnmtr_val'])}{den}" if vpi["strnt_dnmtr_val"] != 1 else f"/{den}"
        strengths.append(text)
    form_row = conn.execute("SELECT formcd FROM dform WHERE vpid = ?", (vpid,)).fetchone()
    unit_code = vmp["unit_dose_uomcd"] or vmp["udfs_uomcd"]
    control = conn.execute("SELECT catcd FROM control_info WHERE vpid = ?", (vpid,)).fetchone()
    if control and control[0] is not None and cd_schedule(control[0]) is None:
        # A category RxDesk does not know yet (a newer release): never guess that it is not a controlled drug.
        raise ValidationError(
            f"{vmp['nm']} has controlled drug category {control[0]}, which this version of RxDesk does not know: "
            "it cannot be prescribed until RxDesk is updated."
        )
    unusable = None
    if vmp["invalid"] == 1 or (amp is not None and amp["invalid"] == 1):
        unusable = "invalid"
    elif (amp is not None and amp["avail_restrictcd"] == "0009") or vmp["non_availcd"] == "0001":
        unusable = "not available"
    return ProductSnapshot(
        vmp_id=str(vpid),
        amp_id=str(amp["apid"]) if amp is not None else None,
        name=str(amp["desc"] if amp is not None else vmp["nm"]),
        strength=" + ".join(strengths) or None,
        form=catalogue.lookup("FORM", str(form_row[0])) if form_row else None,
        unit=catalogue.lookup("UNIT_OF_MEASURE", str(unit_code)) if unit_code else "unit",
        cd_schedule=(cd_schedule(control[0]) or None) if control else None,  # 0: not a controlled drug
        ingredient_ids=tuple(str(r["isid"]) for r in ingredients),
        vtm_id=str(vmp["vtmid"]) if vmp["vtmid"] is not None else None,
        unusable=unusable,
    )


def vtm_ingredient_ids(catalogue: Catalogue, vtm_id: str) -> set[str]:
    """Ingredients of a VTM: from the bonus VTM-ingredient file, else from the VPIs of its VMPs."""
    rows = catalogue.conn.execute("SELECT isid FROM vtm_ing WHERE vtmid = ?", (int(vtm_id),)).fetchall()
    if not rows:
        rows = catalogue.conn.execute(
            "SELECT DISTINCT vpi.isid FROM vmp JOIN vpi USING (vpid) WHERE vmp.vtmid = ?", (int(vtm_id),)
        ).fetchall()
    return {str(r[0]) for r in rows}


def with_related_substances(catalogue: Catalogue, substance_ids: Iterable[str]) -> frozenset[str]:
    """The substances and every form of the same active moiety, as dm+d relates them.

    A VMP's ingredient (VPI ``ISID``) may be a salt or hydrate whose strength is stated as another substance, its
    basis of strength (``BS_SUBID``: Amoxicillin for Amoxicillin trihydrate), and the same drug appears in other
    VMPs under the basis itself (Amoxicillin 125mg/5ml oral suspension lists Amoxicillin). An allergy to one is an
    allergy to the others, and two of them on one patient are the same medicine twice: so each substance counts
    with its basis and with every substance that has that basis. Conservative by design: a warning too many (iron
    salts counted together through Iron) rather than an allergy missed.
    """
    given = {str(s) for s in substance_ids}
    ids = [int(s) for s in given if s.isdigit()]
    if not ids:
        return frozenset(given)
    marks = ",".join("?" * len(ids))
    bases = {
        int(r[0])
        for r in catalogue.conn.execute(
            f"SELECT DISTINCT bs_subid FROM vpi WHERE isid IN ({marks}) AND bs_subid IS NOT NULL", ids
        )
    }
    roots = sorted(set(ids) | bases)
    marks = ",".join("?" * len(roots))
    forms = {
        int(r[0]) for r in catalogue.conn.execute(f"SELECT DISTINCT isid FROM vpi WHERE bs_subid IN ({marks})", roots)
    }
    return frozenset(given | {str(s) for s in (*roots, *forms)})


def current_unusable_state(catalogue: Catalogue, vmp_id: str, amp_id: str | None) -> str | None:
    """Why a prescribed product cannot be prescribed in the current release; cheap, for every check."""
    vmp = catalogue.conn.execute("SELECT invalid, non_availcd FROM vmp WHERE vpid = ?", (int(vmp_id),)).fetchone()
    amp = None
    if amp_id is not None:
        amp = catalogue.conn.execute(
            "SELECT invalid, avail_restrictcd FROM amp WHERE apid = ?", (int(amp_id),)
        ).fetchone()
    if vmp is None or (amp_id is not None and amp is None):
        return "no longer in the catalogue"
    if vmp[0] == 1 or (amp is not None and amp[0] == 1):
        return "invalid"
    if (amp is not None and amp[1] == "0009") or vmp[1] == "0001":
        return "not available"
    return None
