"""Synthetic but realistic dm+d releases in the exact TRUD layout, for benchmarks, tests and the bundled demo.

Names come from the real VTM, ingredient and lookup files of the 2019 sample release; the structure (ids, links,
child records, flags, GTIN layouts, nested zips) follows DESIGN.md section 4 and the XSDs, and every record's fields
are written in the order of core/dmd/schema.py. Files are streamed into the zips; output is byte-identical per seed.

    python -m benchmarks.generate_release --out DIR [--preset full|demo] [--seed N] [--bonus]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import random
import re
import sys
import time
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, NamedTuple

from lxml import etree

from core.dmd.schema import RECORD_TYPES, RELEASE_FILES, FieldKind

SAMPLES = Path(os.environ.get("RXDESK_DMD_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "dmd-samples"))
SAMPLE_2019 = SAMPLES / "release-2019-04-01"
SAMPLE_BONUS_ZIP = SAMPLES / "nhsbsa_dmdbonus_12.0.0_20241202000001.zip"
ZIP_TIME = (2025, 11, 10, 0, 0, 0)
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@dataclass(frozen=True)
class ReleaseCounts:
    vtm: int
    vmp: int
    vmpp: int
    amp: int
    ampp: int
    gtin: int
    ing: int | None = None  # None: the ingredients in use plus 300 more real ones


FULL = ReleaseCounts(vtm=3223, vmp=24390, vmpp=36932, amp=164893, ampp=184331, gtin=97633, ing=4490)
DEMO = ReleaseCounts(vtm=400, vmp=1500, vmpp=2200, amp=3500, ampp=4000, gtin=2500)
PRESETS = {"full": FULL, "demo": DEMO}


@dataclass
class GeneratedRelease:
    main_zip: Path
    bonus_zip: Path | None
    counts: dict[str, int]  # records written per table of core/dmd/schema.py
    sizes: dict[str, int] = field(default_factory=dict)  # uncompressed bytes per XML file


# ---------------------------------------------------------------- check digits and ids
def _split(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


_VD = [list(map(int, row)) for row in _split("0123456789 1234067895 2340178956 3401289567 4012395678 5987604321 "
       "6598710432 7659821043 8765932104 9876543210")]  # fmt: skip
_VP = [list(map(int, row)) for row in _split("0123456789 1576283094 5803796142 8916043527 9453126870 4286573901 "
       "2793806415 7046913258")]  # fmt: skip


def verhoeff(digits: str) -> str:
    """The SNOMED CT (Verhoeff) check digit of ``digits``."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VD[c][_VP[(i + 1) % 8][ord(ch) - 48]]
    return "0432156789"[c]


def gs1_check(body: str) -> str:
    """The GS1 check digit of a GTIN without its last digit."""
    total = sum((3 if i % 2 == 0 else 1) * (ord(ch) - 48) for i, ch in enumerate(reversed(body)))
    return str(-total % 10)


class _Ids:
    """SNOMED-like ids: dm+d extension ids (``<item>1000001<partition><check>``) and some short core ids."""

    def __init__(self, rng: random.Random, taken: set[int]) -> None:
        self.rng, self.taken = rng, taken
        self.item = 3_900_000 + rng.randrange(5000)  # beyond every extension item of the real 2019 files
        self.core = 300_000 + rng.randrange(1000)

    def ext(self) -> int:
        self.item += self.rng.randint(1, 4)
        body = f"{self.item}100000110"
        return int(body + verhoeff(body))

    def short(self) -> int:
        while True:
            self.core += self.rng.randint(1, 9)
            value = int(f"{self.core}00{verhoeff(f'{self.core}00')}")
            if value not in self.taken:
                self.taken.add(value)
                return value


# ---------------------------------------------------------------- vocabulary
class _Form(NamedTuple):
    phrase: str
    form: str  # FORM lookup description
    ont: str  # ONT_FORM_ROUTE description; its suffix gives the route
    unit: str  # pack unit (UNIT_OF_MEASURE description)
    kind: str  # how strengths are written
    df: str  # DF_INDCD
    packs: tuple[int, ...]


_FORMS = {
    key: _Form(phrase, form, ont, unit, kind, df, tuple(map(int, packs.split())))
    for key, phrase, form, ont, unit, kind, df, packs in (
        line.split("|")
        for line in """\
tab|tablets|Tablet|tablet.oral|tablet|solid|1|28 56 30 100 32 84 14 500
caplet|caplets|Tablet|tablet.oral|tablet|solid|1|32 16 100 24
soltab|soluble tablets|Soluble tablet|tablet.oral|tablet|solid|1|24 100 32
efftab|effervescent tablets|Effervescent tablet|tablet.oral|tablet|solid|1|20 24 100
disptab|dispersible tablets|Dispersible tablet|tabletdispersible.oral|tablet|solid|1|28 100 21
odt|orodispersible tablets|Orodispersible tablet|tablet.oral|tablet|solid|1|28 30 14
chewtab|chewable tablets|Chewable tablet|tabletchewable.oral|tablet|solid|1|30 28 60
mrtab|modified-release tablets|Modified-release tablet|tabletmodified-release.oral|tablet|solid|1|28 56 60 30
grtab|gastro-resistant tablets|Gastro-resistant tablet|tabletgastro-resistant.oral|tablet|solid|1|28 56 100
cap|capsules|Capsule|capsule.oral|capsule|solid|1|28 30 56 100 21 15
grcap|gastro-resistant capsules|Gastro-resistant capsule|capsulegastro-resistant.oral|capsule|solid|1|28 7 14 56
mrcap|modified-release capsules|Modified-release capsule|capsulemodified-release.oral|capsule|solid|1|28 56 60
susp|oral suspension|Oral suspension|suspension.oral|ml|liquid|2|100 200 150 500 60
soln|oral solution|Oral solution|solution.oral|ml|liquid|2|100 150 200 300 500
cream|cream|Cream|cream.cutaneous|gram|percent|2|30 15 50 100 20
oint|ointment|Ointment|ointment.cutaneous|gram|percent|2|30 15 50 100
gel|gel|Gel|gel.cutaneous|gram|percent|2|30 50 100 15
eyedrops|eye drops|Eye drops|solutiondrops.ophthalmic|ml|percent|2|10 5
inj|solution for injection ampoules|Solution for injection|solutioninjection.intravenous|ampoule|inj|1|10 5 1
infusion|solution for infusion vials|Solution for infusion|solutioninfusion.intravenous|vial|inj|1|10 1 20
supp|suppositories|Suppository|suppository.rectal|suppository|solid|1|10 12 5 20
inh|inhaler|Pressurised inhalation|pressurizedinhalation.inhalation|dose|inh|1|200 120 100
neb|nebuliser liquid unit dose vials|Nebuliser liquid|solutionnebuliser.inhalation|unit dose|inj|1|20 60
patch|transdermal patches|Transdermal patch|patch.transdermal|patch|patch|1|4 5 8 10""".splitlines()
    )
}
_GENERIC_FORMS = dict(
    tab=40, cap=15, soln=6, susp=4, cream=5, oint=3, gel=2, eyedrops=3, inj=9, infusion=3, mrtab=4, grtab=2, supp=1
)
_LADDER: dict[str, list[tuple[float, float]]] = {
    "solid": [(v, 0) for v in (5, 10, 20, 2.5, 25, 50, 1, 2, 40, 100, 200, 0.5, 250, 500, 15, 30, 400, 60, 0.25)],
    "liquid": [(v, 5) for v in (125, 250, 50, 100, 200, 500, 25, 5, 10, 2)],
    "percent": [(v, 0) for v in (1, 0.5, 2, 0.1, 0.25, 2.5, 5, 10, 0.05, 0.025, 20)],
    "inj": [(10, 1), (5, 1), (20, 2), (50, 5), (1, 1), (2, 1), (100, 10), (40, 2), (500, 5), (250, 5), (200, 10)],
    "inh": [(v, 0) for v in (100, 50, 200, 250, 25, 400)],
    "patch": [(v, 0) for v in (25, 12, 50, 75, 100, 5, 10, 20)],
}
# Common drugs: popularity, then forms with strengths, most popular first (real dm+d has hundreds of packs of each).
_COMMON: dict[str, tuple[float, str]] = {
    line.split()[0]: (float(line.split()[1]), line.split(None, 2)[2])
    for line in """\
Paracetamol 18 tab:500 caplet:500 soltab:500 susp:120,250 cap:500 efftab:500 supp:60,120,125,240,250,500,1000 \
infusion:1000/100,500/50 odt:250,500 disptab:250
Ibuprofen 14 tab:200,400,600 caplet:200 susp:100,200 cap:200 gel:5,10 mrcap:300 mrtab:800 efftab:600
Amoxicillin 12 cap:250,500 susp:125,250 disptab:500 infusion:500/10,1000/20
Omeprazole 12 grcap:20,40,10 grtab:10,20 susp:10,20 infusion:40/10
Atorvastatin 11 tab:20,40,10,80 chewtab:10,20
Metformin 11 tab:500,850,1000 mrtab:500,750,1000 soln:500
Amlodipine 10 tab:5,10,2.5 soln:5
Ramipril 10 cap:5,10,2.5,1.25 tab:5,10,2.5,1.25 soln:2.5
Sertraline 9 tab:50,100,25 soln:50
Salbutamol 10 inh:100 neb:2.5/2.5,5/2.5 soln:2 tab:2,4 inj:0.5/1
Morphine 10 soln:10 mrtab:5,10,15,30,60,100,200 mrcap:10,30,60 tab:10,20,50 inj:10/1,30/1,15/1 supp:10,15,30
Codeine 8 tab:30,15,60 soln:25 inj:60/1
Diazepam 8 tab:2,5,10 soln:2,5 inj:10/2 supp:10
Lansoprazole 9 grcap:30,15 odt:15,30
Levothyroxine 10 tab:0.05,0.1,0.025,0.0125,0.075,0.125 soln:0.025,0.05,0.1
Simvastatin 10 tab:40,20,10,80 susp:20,40
Oxycodone 7 cap:5,10,20 mrtab:5,10,20,40,80 soln:5 inj:10/1,50/1
Fentanyl 6 patch:12,25,50,75,100 inj:0.1/2
Tramadol 6 cap:50 mrtab:100,150,200 mrcap:50,100,150,200 inj:100/2""".splitlines()
}
_OTHER_COMMON = set(
    _split(
        "Aspirin Cetirizine Prednisolone Citalopram Gabapentin Pregabalin Bisoprolol Lisinopril Furosemide Warfarin "
        "Clopidogrel Naproxen Diclofenac Hydrocortisone Beclometasone Amitriptyline Doxycycline Flucloxacillin "
        "Clarithromycin Metronidazole Fluoxetine Losartan Mirtazapine"
    )
)


def _pairs(text: str) -> dict[str, str]:
    return {k.replace("_", " "): v.replace("_", " ") for k, v in (item.split(":") for item in text.split())}


_DRUG_NAME = _pairs("Codeine:Codeine_phosphate Levothyroxine:Levothyroxine_sodium Morphine:Morphine_sulfate")
_CD = _pairs(
    "Morphine:0002 Oxycodone:0002 Fentanyl:0002 Methadone:0002 Diamorphine:0002 Pethidine:0002 Methylphenidate:0002 "
    "Temazepam:0007 Buprenorphine:0004 Tramadol:0005 Midazolam:0005 Phenobarbital:0006 Diazepam:0009 "
    "Lorazepam:0009 Zopiclone:0009 Nitrazepam:0009 Clonazepam:0009 Testosterone:0008 Nandrolone:0008 "
    "Codeine:0010 Dihydrocodeine:0010"
)
_BRANDS = {
    k: v.split(",")
    for k, v in _pairs(
        "Paracetamol:Panadol,Calpol Ibuprofen:Nurofen,Brufen Amoxicillin:Amoxil Omeprazole:Losec "
        "Atorvastatin:Lipitor Metformin:Glucophage Amlodipine:Istin Ramipril:Tritace Sertraline:Lustral "
        "Salbutamol:Ventolin,Salamol,Airomir Morphine:Oramorph,MST_Continus,Zomorph Lansoprazole:Zoton "
        "Simvastatin:Zocor Oxycodone:OxyContin,OxyNorm Fentanyl:Durogesic Tramadol:Zydol"
    ).items()
}
_ATC = _pairs(
    "Paracetamol:N02BE01 Ibuprofen:M01AE01 Amoxicillin:J01CA04 Omeprazole:A02BC01 Atorvastatin:C10AA05 "
    "Metformin:A10BA02 Amlodipine:C08CA01 Ramipril:C09AA05 Sertraline:N06AB06 Salbutamol:R03AC02 "
    "Morphine:N02AA01 Simvastatin:C10AA01 Lansoprazole:A02BC03 Levothyroxine:H03AA01 Diazepam:N05BA01"
)
_BAN = _pairs(  # rINN names and the British Approved Names they replaced: real previous names
    "Amoxicillin:Amoxycillin Furosemide:Frusemide Levothyroxine:Thyroxine Aciclovir:Acyclovir "
    "Sulfasalazine:Sulphasalazine Bendroflumethiazide:Bendrofluazide Lidocaine:Lignocaine "
    "Colecalciferol:Cholecalciferol Beclometasone:Beclomethasone Dosulepin:Dothiepin "
    "Chlorphenamine:Chlorpheniramine Ciclosporin:Cyclosporin Cefalexin:Cephalexin"
)
_ABBREV = _pairs(
    "modified-release:m/r gastro-resistant:gastro-res solution_for_injection:inj solution_for_infusion:inf "
    "oral_suspension:oral_susp oral_solution:oral_soln preservative_free:PF sugar_free:SF tablets:tabs capsules:caps"
)
_OLD_NAMES = _pairs(
    "tablets:tablet capsules:capsule oral_suspension:suspension oral_solution:oral_liquid "
    "solution_for_injection_ampoules:injection_ampoules"
)
_PLURAL = _pairs(
    "tablet:tablets capsule:capsules ampoule:ampoules vial:vials patch:patches suppository:suppositories dose:doses"
)
_POPULAR_SUPPLIERS = _split(
    "Accord Healthcare Ltd|Teva UK Ltd|Zentiva|Almus Pharmaceuticals Ltd|Sigma Pharmaceuticals Plc|Mylan|"
    "Phoenix Healthcare Distribution Ltd|Alliance Healthcare (Distribution) Ltd|Crescent Pharma Ltd|Milpharm Ltd|"
    "Bristol Laboratories Ltd|Sandoz Ltd|Kent Pharmaceuticals Ltd|Dr Reddy's Laboratories (UK) Ltd|Actavis UK Ltd|"
    "Wockhardt UK Ltd|Strides Pharma UK Ltd|DE Pharmaceuticals|Lexon (UK) Ltd|Necessity Supplies Ltd|Pfizer Ltd|"
    "Waymade Healthcare Plc|A A H Pharmaceuticals Ltd|Aspire Pharma Ltd|Relonchem Ltd|Genus Pharmaceuticals Ltd|"
    "Glenmark Pharmaceuticals Europe Ltd|Torrent Pharma (UK) Ltd|Brown & Burk UK Ltd|Macleods Pharma UK Ltd|"
    "Lupin Healthcare (UK) Ltd|Thornton & Ross Ltd|Rosemont Pharmaceuticals Ltd|Martindale Pharmaceuticals Ltd|"
    "Flynn Pharma Ltd|Napp Pharmaceuticals Ltd|Boots Pharmaceuticals Ltd|Tillomed Laboratories Ltd",
    "|",
)
_DEVICES = (  # (name pattern, kinds, sizes, pack unit); appliances have no VTM
    ("{} dressing {}", "Foam|Hydrocolloid|Alginate|Silicone foam|Low adherent|Absorbent|Film|Silver alginate|Honey",
     [f"{a}cm x {b}cm" for a in (5, 7.5, 10, 12.5, 15, 20) for b in (5, 7.5, 10, 12.5, 15, 20, 25) if b >= a],
     "dressing"),
    ("{} bandage {}", "Elastic adhesive|Crepe|Cohesive|Tubular",
     [f"{w}cm x {n}m" for w in (2.5, 5, 7.5, 10, 15) for n in (4, 4.5, 10)], "bandage"),
    ("{} needles {}", "Hypodermic insulin injection pen|Safety hypodermic",
     [f"{mm}mm/{g}gauge" for mm in (4, 5, 6, 8, 10, 12) for g in (29, 30, 31, 32)], "needle"),
    ("{} {}", "Urethral catheter|Intermittent self-catheter|Foley catheter",
     [f"{ch}Ch {k}" for ch in range(6, 26, 2) for k in ("female", "male", "paediatric")], "catheter"),
    ("{} {}", "Ostomy drainable pouch|Ostomy closed pouch|Urostomy pouch", [f"{mm}mm" for mm in range(13, 70, 3)],
     "pouch"),
    ("Compression hosiery {} {}", "class 1|class 2|class 3",
     [f"{a} {b}" for a in ("below knee", "thigh length", "tights") for b in ("open toe", "closed toe")], "stocking"),
    ("{} {}", "Lancets|Blood glucose testing strips", [f"type {n}" for n in range(1, 30)], "strip"),
)  # fmt: skip
_EXCIPIENTS = (
    "Arachis oil|Lactose|Gelatin|Sucrose|Aspartame|Sesame oil|Wool fat|Benzyl alcohol|Propylene glycol|Ethanol"
)
_SALTS = _split(
    "hydrochloride sodium maleate citrate sulfate acetate phosphate mesilate besilate tartrate fumarate succinate "
    "calcium potassium hydrobromide dihydrate monohydrate"
)
_MASS_UOM = {"mg": "258684004", "microgram": "258685003", "g": "258682000"}


# ---------------------------------------------------------------- small helpers
def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{round(v, 4):g}"


def _mass(mg: float, plural: str = "") -> tuple[str, str, str]:
    """Name text, value and unit of a mass in mg: 0.025 -> 25microgram, 1000 -> 1g."""
    if mg < 1:
        return f"{_num(mg * 1000)}microgram{plural}", _num(mg * 1000), "microgram"
    if mg >= 1000 and mg % 1000 == 0:
        return f"{_num(mg / 1000)}g", _num(mg / 1000), "g"
    return f"{_num(mg)}mg", _num(mg), "mg"


def _replace_first(name: str, table: dict[str, str]) -> str | None:
    return next((name.replace(a, b) for a, b in table.items() if a in name), None)


def _abbrev(name: str) -> str:
    for long, short in _ABBREV.items():
        name = name.replace(long, short)
    return name


def _allocate(total: int, weights: Sequence[float], mins: Sequence[int]) -> list[int]:
    """Split ``total`` over buckets: each its minimum, the rest in proportion to the weights (largest remainder)."""
    n = len(weights)
    if n == 0:
        return []
    if total < sum(mins):
        mins = [0] * n
    rest, wsum = total - sum(mins), sum(weights) or 1.0
    quotas = [rest * w / wsum for w in weights]
    out = [m + int(q) for m, q in zip(mins, quotas, strict=True)]
    order = sorted(range(n), key=lambda i: int(quotas[i]) - quotas[i])
    for k in range(total - sum(out)):
        out[order[k % n]] += 1
    return out


def _day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randrange(max(1, (hi - lo).days)))


def _flag(rng: random.Random, p: float, value: str = "0001") -> str | None:
    """A present-means-true flag, written ``0001`` or ``1`` as NHSBSA does."""
    return value if rng.random() < p else None


Record = dict[str, object] | Sequence[object]  # a dict by tag, or the values in schema field order
_RT = {rt.table: rt for rt in RECORD_TYPES}
_TAGS = {rt.table: rt.tags for rt in RECORD_TYPES}
_TEXT = {rt.table: {f.tag for f in rt.fields if f.kind is FieldKind.TEXT} for rt in RECORD_TYPES}
_ROOTS = {rf.key: rf.root for rf in RELEASE_FILES}
_XSD = dict(vtm="vtm_v2_3", vmp="vmp_v2_3", vmpp="vmpp_v2_3", amp="amp_v2_3", ampp="ampp_v2_3")
_XSD |= dict(ingredient="ingredient_v2_3", gtin="gtin_v2_0")


def _rec(table: str, vals: Record) -> str:
    """One record, fields in schema (XSD) order; absent (None) fields are left out and text is XML-escaped."""
    tags, text = _TAGS[table], _TEXT[table]
    values = map(vals.get, tags) if isinstance(vals, dict) else vals
    parts = [f"<{_RT[table].tag}>"]
    for t, v in zip(tags, values, strict=True):
        if v is not None:
            v = str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if t in text else v
            parts.append(f"<{t}>{v}</{t}>")
    parts.append(f"</{_RT[table].tag}>")
    return "".join(parts)


def _zipinfo(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type, info.external_attr = compress, 0o644 << 16
    return info


class _Member:
    """One file streamed into a zip as encoded chunks; its uncompressed size goes to ``sizes``."""

    def __init__(self, zf: zipfile.ZipFile, name: str, sizes: dict[str, int]) -> None:
        self.name, self.sizes, self.buf = name, sizes, list[str]()
        self.fh: IO[bytes] = zf.open(_zipinfo(name), "w")
        sizes[name] = 0

    def add(self, text: str) -> None:
        self.buf.append(text)
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self) -> None:
        data = "".join(self.buf).encode()
        self.fh.write(data)
        self.sizes[self.name] += len(data)
        self.buf.clear()

    def close(self) -> None:
        self.flush()
        self.fh.close()


Sections = list[tuple[str, Callable[[], Iterable[Record]]]]  # (table, records made when the section is written)


def _write_xml(zf: zipfile.ZipFile, name: str, key: str, sections: Sections, gen: _Generator) -> None:
    """A main-release file on one line: declaration, root, the NHSBSA comment, then each section in turn."""
    root, counts = _ROOTS[key], gen.counts
    out = _Member(zf, name, gen.sizes)
    out.add(f'<?xml version="1.0" encoding="utf-8"?><{root} xmlns="" {XSI} ')
    out.add(f'xsi:noNamespaceSchemaLocation="{_XSD[key]}.xsd"><!-- Generated by NHSBSA PPD -->')
    for table, records in sections:
        section = _RT[table].section
        counts.setdefault(table, 0)
        out.add(f"<{section}>" if section != root else "")
        for vals in records():
            out.add(_rec(table, vals))
            counts[table] += 1
        out.add(f"</{section}>" if section != root else "")
    out.add(f"</{root}>")
    out.close()


def _records(path: Path, tag: str) -> list[dict[str, str]]:
    out = []
    for _, el in etree.iterparse(str(path), tag=tag):
        out.append({c.tag: c.text or "" for c in el if isinstance(c.tag, str)})
        el.clear()
    return out


@dataclass(slots=True)
class _Vmp:
    vpid: int
    vtm: dict[str, str] | None
    name: str
    rest: str  # what follows the drug name, for brand names
    form: str  # key of _FORMS, or "device"
    vpis: list[tuple[object, ...]]  # VPI fields after VPID
    weight: float = 1.0  # popularity: share of AMPs
    cat: str = "0000"
    flag: str | None = None  # SUG_F or PRES_F
    invalid: bool = False
    non_avail: bool = False
    prev: list[int] = field(default_factory=list)  # previous VPIDs, newest first
    iddt: date | None = None
    unit: str = "tablet"
    routes: tuple[str, ...] = ()
    packs: list[int] = field(default_factory=list)  # indexes into the VMPP list
    ppu: float = 10.0  # price per unit, pence
    legal: str = "0003"


# ---------------------------------------------------------------- the generator
class _Generator:
    def __init__(self, n: ReleaseCounts, seed: int, today: date) -> None:
        self.n, self.rng, self.today = n, random.Random(seed), today
        self.counts: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.lookup_bytes = next(SAMPLE_2019.glob("f_lookup2_*.xml")).read_bytes()
        self.lookup: dict[str, list[dict[str, str]]] = {
            sec.tag: [{c.tag: c.text or "" for c in info} for info in sec.iter("INFO")]
            for sec in etree.fromstring(self.lookup_bytes)
            if isinstance(sec.tag, str)
        }
        self.codes = {t: {r["DESC"]: r["CD"] for r in rows if "INVALID" not in r} for t, rows in self.lookup.items()}
        self.uom = self.codes["UNIT_OF_MEASURE"]
        self.real_vtms = _records(next(SAMPLE_2019.glob("f_vtm2_*.xml")), "VTM")
        self.real_ings = _records(next(SAMPLE_2019.glob("f_ingredient2_*.xml")), "ING")
        keys = ("VTMID", "VTMIDPREV", "ISID", "ISIDPREV")
        self.ids = _Ids(self.rng, {int(r[k]) for r in self.real_vtms + self.real_ings for k in keys if r.get(k)})
        suppliers = [(r["CD"], r["DESC"]) for r in self.lookup["SUPPLIER"] if "INVALID" not in r]
        popular = [s for name in _POPULAR_SUPPLIERS for s in suppliers if s[1] == name]
        self.supp = popular + [s for s in suppliers if s not in popular]
        weights = [40 / (i + 3) for i in range(len(popular))] + [0.05] * (len(self.supp) - len(popular))
        self.supp_cum = list(itertools.accumulate(weights))
        self.special = next((s for s in suppliers if s[1] == "Special Order"), self.supp[0])
        self.brands: dict[str, list[str]] = {}
        self._plan_vtms()
        self._plan_vmps()
        self._plan_ings()
        self._plan_vmpps()

    # -- planning: VTMs, VMPs, ingredients and VMPPs live in memory; AMPs and AMPPs are kept as compact arrays
    def _plan_vtms(self) -> None:
        rng, real, n = self.rng, self.real_vtms, self.n.vtm
        if n <= len(real):
            must = set(_COMMON) | _OTHER_COMMON | set(_CD)
            keep = {i for i, r in enumerate(real) if r["NM"] in must and "INVALID" not in r}
            rest = [i for i in range(len(real)) if i not in keep]
            keep |= set(rng.sample(rest, max(0, n - len(keep))))
            self.vtms = [dict(r) for i, r in enumerate(real) if i in keep][:n]
            return
        self.vtms = [dict(r) for r in real]
        names = {r["NM"] for r in real if "INVALID" not in r}
        # Extra VTMs pair up substances that real combination products combine.
        parts = sorted({p for nm in names if " + " in nm for p in nm.split(" + ") if p in names})
        while len(self.vtms) < n:
            nm = " + ".join(rng.sample(parts, 2))
            if nm not in names:
                names.add(nm)
                self.vtms.append({"VTMID": str(self.ids.ext()), "NM": nm, "SYN": "1"})

    def _ing(self, name: str) -> tuple[str, list[dict[str, str]]]:
        """The ISID of the ingredient ``name`` (made up if the real file lacks it) and its real salt forms."""
        key = name.lower()
        if key not in self.ing_by_name:
            self.ing_by_name[key] = {"ISID": str(self.ids.ext()), "NM": name}
            self.new_ings.append(self.ing_by_name[key])
        return self.ing_by_name[key]["ISID"], self.salts.get(key, [])

    def _plan_vmps(self) -> None:
        rng = self.rng
        self.ing_by_name = {r["NM"].lower(): r for r in self.real_ings if "INVALID" not in r}
        self.new_ings: list[dict[str, str]] = []
        self.salts: dict[str, list[dict[str, str]]] = {}
        for r in self.real_ings:
            if " " in r["NM"] and "INVALID" not in r:
                self.salts.setdefault(r["NM"].rsplit(" ", 1)[0].lower(), []).append(r)
        self.excipients = sorted({self._ing(nm)[0] for nm in _EXCIPIENTS.split("|")})
        valid = [v for v in self.vtms if "INVALID" not in v]
        # VMPs per VTM follow the number of forms and strengths; AMPs per VMP follow popularity.
        pop = [
            _COMMON[v["NM"]][0] * 5 if v["NM"] in _COMMON else 4.0 if v["NM"] in _OTHER_COMMON | set(_CD)
            else rng.lognormvariate(0, 0.4) * (0.5 if "SYN" in v else 1)
            for v in valid
        ]  # fmt: skip
        size = [
            len(_COMMON[v["NM"]][1].split(",")) / 3 if v["NM"] in _COMMON else min(p, 2)
            for v, p in zip(valid, pop, strict=True)
        ]
        n_dev = self.n.vmp * 3 // 100 if self.n.vmp >= 30 else 0
        self.vmps: list[_Vmp] = []
        self.vtm_ings = {v["VTMID"]: [self._ing(p)[0] for p in v["NM"].split(" + ")] for v in valid}
        for vtm, k, w in zip(valid, _allocate(self.n.vmp - n_dev, size, [1] * len(valid)), pop, strict=True):
            for rank, made in zip(range(k), self._names(vtm["NM"], vtm["NM"].split(" + ")), strict=False):
                self.vmps.append(self._vmp(vtm, *made, w / (1 + rank * 0.5)))
        stems = [(pat.format(a, b), unit) for pat, aa, bb, unit in _DEVICES for a in aa.split("|") for b in bb]
        rng.shuffle(stems)
        for i in range(n_dev):
            name, unit = stems[i % len(stems)]
            name += f" {i // len(stems) + 1}" if i >= len(stems) else ""
            v = self._vmp(None, name, name[0].lower() + name[1:], "device", [], None, 5.0)
            v.unit, v.legal, v.ppu = unit, "0004", rng.lognormvariate(4, 1)
            self.vmps.append(v)

    def _names(self, vtm: str, parts: list[str]) -> Iterator[tuple[str, str, str, list[tuple[object, ...]], str]]:
        """Distinct VMP names of a VTM, most common first: (name, brand part, form, VPI fields, flag)."""
        rng = self.rng
        if vtm in _COMMON:
            spec = {
                form: [(float(a), float(b or 5)) for a, _, b in (s.partition("/") for s in strengths.split(","))]
                for form, strengths in (item.split(":") for item in _COMMON[vtm][1].split())
            }
        else:
            keys = list(_GENERIC_FORMS)
            spec = {f: [] for f in rng.choices(keys, list(_GENERIC_FORMS.values()), k=rng.choice((1, 1, 2, 3)))}
        seen: set[str] = set()
        # The listed strengths of every form first, then the usual strength ladder (scaled up when exhausted).
        rounds = [(r, True) for r in range(max(map(len, spec.values())))] + [(r, False) for r in range(10_000)]
        for r, listed in rounds:
            for form, explicit in spec.items():
                phrase, kind = _FORMS[form].phrase, _FORMS[form].kind
                ladder = explicit if listed else [x for x in _LADDER[kind] if x not in explicit]
                if listed and r >= len(ladder):
                    continue
                a, b = ladder[r % len(ladder)]
                a *= 3 ** (r // len(ladder))
                texts, vpis = [], []
                for j, part in enumerate(parts):
                    a, b = rng.choice(_LADDER[kind]) if j else (a, b)
                    text, vpi = self._strength(kind, a, b, form)
                    isid, salts = self._ing(part)
                    basis, sub = "0001", None
                    if salts and rng.random() < 0.15:  # strength of a salt, based on the base substance
                        basis, sub, isid = "0002", isid, rng.choice(salts)["ISID"]
                    vpis.append((isid, basis, sub, *vpi))
                    texts.append(f"{_DRUG_NAME.get(part, part)} {text}" if len(parts) > 1 else text)
                rest = f"{' / '.join(texts)} {phrase}"
                drug = _DRUG_NAME.get(vtm, vtm) if len(parts) == 1 else ""
                suffix = {"liquid": ("", " sugar free"), "percent": ("", " preservative free")}.get(kind, ("",))
                for sfx in suffix:
                    name = f"{drug} {rest}{sfx}".strip()
                    if name not in seen:
                        seen.add(name)
                        flag = ("SUG_F" if "sugar" in sfx else "PRES_F") if sfx else None
                        yield name, (rest if drug else phrase) + sfx, form, vpis, flag

    def _strength(self, kind: str, a: float, b: float, form: str) -> tuple[str, tuple[object, ...]]:
        """Name text and VPI strength fields (numerator value, unit, denominator value, unit)."""
        u = self.uom
        if kind in ("solid", "liquid", "inj"):
            text, value, unit = _mass(a, "s" if kind == "liquid" else "")
            den = (None, None) if kind == "solid" else (_num(b), u["ml"])
            return text + ("" if kind == "solid" else f"/{_num(b)}ml"), (value, _MASS_UOM[unit], *den)
        if kind == "percent":
            return f"{_num(a)}%", (_num(a * 10), u["mg"], "1", u["ml" if form == "eyedrops" else "gram"])
        per = "dose" if kind == "inh" else "hour"
        return f"{_num(a)}micrograms/{per}", (_num(a), u["microgram"], "1", u[per])

    def _vmp(self, vtm: dict[str, str] | None, name: str, rest: str, form: str, vpis: list[tuple[object, ...]],
             flag: str | None, weight: float) -> _Vmp:  # fmt: skip
        rng = self.rng
        v = _Vmp(self.ids.short() if vtm and rng.random() < 0.15 else self.ids.ext(), vtm, name, rest, form, vpis)
        nm, v.flag = vtm["NM"] if vtm else "", flag
        v.weight = weight * rng.lognormvariate(0, 0.3 if nm in _COMMON else 0.4)
        if nm not in _COMMON:  # common drugs list their forms most popular first
            v.weight *= {"tab": 3, "cap": 2, "susp": 1.5}.get(form, 1)
        v.invalid = rng.random() < 0.02
        v.non_avail = not v.invalid and rng.random() < 0.02
        if v.invalid or v.non_avail:
            v.weight = 0.0
        if rng.random() < 0.03:
            v.prev = [self.ids.ext() for _ in range(rng.choice((1, 1, 1, 2)))]
            v.iddt = _day(rng, date(2008, 1, 1), self.today - timedelta(days=30))
        cats = [_CD[p] for p in nm.split(" + ") if p in _CD]
        if cats:
            v.cat = cats[0]
            if v.cat == "0002" and form == "soln" and float(str(vpis[0][3])) <= 10:
                v.cat = "0010"  # e.g. morphine oral solution 10mg/5ml is Schedule 5
            elif v.cat == "0002" and rng.random() < 0.2:
                v.cat = "0003"
        if form != "device":
            f = _FORMS[form]
            route = f.ont.split(".")[1]
            v.unit, v.routes = f.unit, ({"ophthalmic": "Ocular"}.get(route, route.capitalize()),)
            if form == "inj":
                v.routes += tuple(r for r in ("Intramuscular", "Subcutaneous") if rng.random() < 0.5)
            mu = {"solid": 2, "liquid": 0.5, "percent": 1.5, "inj": 5}.get(f.kind, 4)
            v.ppu = rng.lognormvariate(mu, 1)
            otc = nm in {"Paracetamol", "Ibuprofen", "Aspirin", "Cetirizine", "Loratadine"}
            v.legal = "0002" if otc or rng.random() < 0.08 else "0003"
        return v

    def _plan_ings(self) -> None:
        """The ingredient file: every ingredient in use, then unused real ones, then made-up salts."""
        used = set(self.excipients) | {i for ings in self.vtm_ings.values() for i in ings}
        used |= {str(p[i]) for v in self.vmps for p in v.vpis for i in (0, 2) if p[i]}
        target = self.n.ing if self.n.ing is not None else len(used) + 300
        chosen = [r for r in self.real_ings + self.new_ings if r["ISID"] in used]
        chosen += [r for r in self.real_ings if r["ISID"] not in used][: max(0, target - len(chosen))]
        names = {r["NM"].lower() for r in self.real_ings + self.new_ings}
        bases = sorted(r["NM"] for r in self.real_ings if " " not in r["NM"] and "INVALID" not in r)
        while len(chosen) < target:
            nm = f"{self.rng.choice(bases)} {self.rng.choice(_SALTS)}"
            if nm.lower() not in names:
                names.add(nm.lower())
                chosen.append({"ISID": str(self.ids.ext()), "NM": nm})
        self.ings = sorted(chosen, key=lambda r: r["NM"].lower())

    def _plan_vmpps(self) -> None:
        rng = self.rng
        self.vmpps: list[tuple[int, int, int, str]] = []  # (VPPID, VMP index, quantity, name)
        alloc = _allocate(self.n.vmpp, [1 + v.weight for v in self.vmps], [1] * len(self.vmps))
        for vi, (v, k) in enumerate(zip(self.vmps, alloc, strict=True)):
            packs = _FORMS[v.form].packs if v.form in _FORMS else (10, 5, 30, 1, 2, 100)
            more = (7, 14, 21, 28, 30, 50, 56, 60, 84, 90, 100, 112, 120, 200, 250, 500, 1000, 2000, 5000)
            qtys = list(dict.fromkeys([*packs, *more]))
            qtys += [10_000 * i for i in range(1, k - len(qtys) + 1)]
            for q in qtys[:k]:
                v.packs.append(len(self.vmpps))
                self.vmpps.append((self.ids.ext(), vi, q, f"{v.name} {q} {v.unit}"))
        # A few combination packs: a parent VMPP whose contents are other VMPPs.
        self.comb_parent: dict[int, list[int]] = {}
        self.comb_child: set[int] = set()
        for p in rng.sample(range(len(self.vmpps)), len(self.vmpps) // 3000 + (len(self.vmpps) >= 10)):
            kids = [c for c in rng.sample(range(len(self.vmpps)), 2) if c != p and c not in self.comb_parent]
            if kids and p not in self.comb_child:
                self.comb_parent[p] = kids
                self.comb_child.update(kids)

    # -- main release files ------------------------------------------------------------------------------
    def _vmp_sections(self) -> Sections:
        rng, codes, vmps = self.rng, self.codes, self.vmps
        drugs = [v for v in vmps if v.form in _FORMS]

        def vmp(v: _Vmp) -> dict[str, object]:
            r: dict[str, object] = {"VPID": v.vpid, "VTMID": v.vtm["VTMID"] if v.vtm else None, "NM": v.name}
            if v.prev and v.iddt:
                r["VPIDPREV"], r["VPIDDT"] = v.prev[0], v.iddt.isoformat()
            r["INVALID"], r["BASISCD"] = "1" if v.invalid else None, "0001" if v.vtm else "0007"
            short = _abbrev(v.name)
            r["ABBREVNM"] = short if short != v.name and (len(v.name) > 60 or rng.random() < 0.03) else None
            drug = v.vtm["NM"] if v.vtm else ""
            prev = v.name.replace(drug, _BAN[drug]) if drug in _BAN and rng.random() < 0.6 else None
            prev = prev or (_replace_first(v.name, _OLD_NAMES) if rng.random() < 0.04 else None)
            if prev:
                r["NMPREV"], r["NMDT"] = prev, _day(rng, date(2005, 1, 1), self.today).isoformat()
                r["BASIS_PREVCD"], r["NMCHANGECD"] = ("0002", "0002") if drug in _BAN else ("0001", "0004")
            r["PRES_STATCD"] = "0001" if rng.random() < 0.96 else rng.choice(("0002", "0003", "0004", "0005"))
            r["SUG_F" if v.flag == "SUG_F" else "PRES_F"] = "0001" if v.flag else None
            r["GLU_F"], r["CFC_F"] = _flag(rng, 0.01, "1"), _flag(rng, 0.3) if v.form == "inh" else None
            if v.non_avail:
                r["NON_AVAILCD"], r["NON_AVAILDT"] = "0001", _day(rng, date(2010, 1, 1), self.today).isoformat()
            r["DF_INDCD"] = _FORMS[v.form].df if v.form in _FORMS else "3"
            if r["DF_INDCD"] == "1":
                inj = _FORMS[v.form].kind == "inj"
                r["UDFS"], r["UNIT_DOSE_UOMCD"] = v.vpis[0][5] if inj else "1", self.uom[v.unit]
                r["UDFS_UOMCD"] = self.uom["ml" if inj else v.unit]
            return r

        def onts(v: _Vmp) -> list[str]:
            base = _FORMS[v.form].ont.split(".")[0]
            descs = [_FORMS[v.form].ont, *(f"{base}.{r.lower()}" for r in v.routes[1:])]
            return [codes["ONT_FORM_ROUTE"][d] for d in descs if d in codes["ONT_FORM_ROUTE"]]

        def cat(v: _Vmp) -> tuple[object, ...]:
            changed = v.vtm is not None and v.vtm["NM"] in {"Tramadol", "Zopiclone"}  # rescheduled in June 2014
            return (v.vpid, v.cat, "2014-06-10", "0000") if changed else (v.vpid, v.cat, None, None)

        return [
            ("vmp", lambda: map(vmp, vmps)),
            ("vpi", lambda: ((v.vpid, *p) for v in vmps for p in v.vpis)),
            ("ont", lambda: ((v.vpid, c) for v in drugs for c in onts(v))),
            ("dform", lambda: ((v.vpid, codes["FORM"][_FORMS[v.form].form]) for v in drugs)),
            ("droute", lambda: ((v.vpid, codes["ROUTE"][r]) for v in drugs for r in v.routes)),
            ("control_info", lambda: map(cat, vmps)),
        ]

    def _vmpp_sections(self) -> Sections:
        rng, vmpps = self.rng, self.vmpps

        def vmpp(i: int) -> tuple[object, ...]:
            vppid, vi, qty, name = vmpps[i]
            comb = "0001" if i in self.comb_parent else "0002" if i in self.comb_child else None
            short = _abbrev(name) if len(name) > 55 and _abbrev(name) != name else None
            v = self.vmps[vi]
            return vppid, _flag(rng, 0.01, "1"), name, short, v.vpid, qty, self.uom[v.unit], comb

        def dtinfo() -> Iterator[tuple[object, ...]]:
            for vppid, vi, qty, _ in vmpps:
                v = self.vmps[vi]
                if rng.random() < 0.97:
                    pay = rng.choice(("0006", "0007") if v.form == "device" else ("0001", "0001", "0011", "0003"))
                    price = max(1, round(qty * v.ppu * rng.uniform(0.8, 1.2)))
                    dt = f"{self.today.year - rng.randrange(3)}-{rng.randint(1, 12):02d}-01"
                    prev = max(1, round(price * rng.uniform(0.8, 1.2))) if rng.random() < 0.6 else None
                    yield vppid, pay, price, dt, prev

        kids = [(vmpps[p][0], vmpps[c][0]) for p, cs in self.comb_parent.items() for c in cs]
        return [("vmpp", lambda: map(vmpp, range(len(vmpps)))), ("dtinfo", dtinfo), ("vmpp_ccontent", lambda: kids)]

    def _brand(self, v: _Vmp) -> str:
        key = v.vtm["NM"] if v.vtm else v.name.split()[0]
        if key not in self.brands:
            stem, rng = re.sub(r"[^A-Za-z]", "", key), self.rng
            endings = ("ex", "ol", "in", "an", "ix", "or", "ene", "al", "id", "on", "ax", "ium")
            made = [stem[: rng.choice((3, 4, 5))].capitalize() + rng.choice(endings) for _ in range(rng.randint(1, 3))]
            self.brands[key] = _BRANDS.get(key, made)
        return self.rng.choice(self.brands[key])

    def _amps(self) -> Iterator[tuple[object, ...]]:
        rng, flavours = self.rng, sorted(self.codes["FLAVOUR"].values())
        weights = [v.weight if v.packs else 0 for v in self.vmps]
        self.amp_id, self.amp_vmp, self.amp_desc = array("q"), array("i"), list[str]()
        for vi, k in enumerate(_allocate(self.n.amp, weights, [w > 0 for w in weights])):
            v, used = self.vmps[vi], set[str]()
            for _ in range(k):
                (cd, supp), avail = (self.special, "0006") if rng.random() < 0.01 else (("", ""), "0001")
                for _try in range(3 if not cd else 0):  # suppliers of one VMP differ where they can
                    cd, supp = self.supp[rng.choices(range(len(self.supp)), cum_weights=self.supp_cum)[0]]
                    if supp not in used:
                        break
                used.add(supp)
                brand = rng.random() < (0.4 if v.form == "device" else 0.2)
                nm = f"{self._brand(v)} {v.rest}" if brand else v.name
                x = rng.random()
                avail = "0009" if x < 0.03 else "0003" if x < 0.04 else "0008" if x < 0.043 else avail
                avail = "0010" if x > 0.99997 else avail  # a code missing from the lookup file, as in real data
                short = _abbrev(nm) if len(nm) > 50 and _abbrev(nm) != nm else None
                prev, nmdt = None, None
                if rng.random() < 0.03:
                    prev = v.name if brand else _replace_first(nm, _OLD_NAMES) or f"{self._brand(v)} {v.rest}"
                    nmdt = _day(rng, date(2005, 1, 1), self.today).isoformat()
                lic = "0002" if v.form == "device" else "0000" if avail == "0006" else "0001"
                change = ("0003", "0001", _day(rng, date(2008, 1, 1), self.today).isoformat())
                change = change if rng.random() < 0.01 else (None, None, None)
                flavour = rng.choice(flavours) if v.form in ("susp", "soln") and rng.random() < 0.25 else None
                apid, desc = self.ids.ext(), f"{nm} ({supp})"
                self.amp_id.append(apid)
                self.amp_vmp.append(vi)
                self.amp_desc.append(desc)
                yield (apid, _flag(rng, 0.02, "1"), v.vpid, nm, short, desc, nmdt, prev, cd, lic, *change, None,
                       flavour, _flag(rng, 0.03), _flag(rng, 0.03), avail)  # fmt: skip

    def _amp_sections(self) -> Sections:
        rng, colours, route = self.rng, sorted(self.codes["COLOUR"].values()), self.codes["ROUTE"]

        def ap_ing() -> Iterator[tuple[object, ...]]:
            for apid in self.amp_id:
                for isid in rng.sample(self.excipients, rng.choice((1, 1, 2))) if rng.random() < 0.05 else ():
                    strength = _num(rng.choice((0.5, 1, 5, 10, 25, 50))) if rng.random() < 0.4 else None
                    yield apid, isid, strength, strength and self.uom["mg"]

        def ap_info() -> Iterator[tuple[object, ...]]:
            for apid, vi in zip(self.amp_id, self.amp_vmp, strict=True):
                dev = self.vmps[vi].form == "device"
                if rng.random() < (0.5 if dev else 0.08):
                    order = f"{rng.choice('ABCDEFGHKLMPRSTW')}{rng.randint(1000, 99999)}"
                    size = self.vmps[vi].name.rsplit(" ", 1)[-1]
                    yield (apid, size, None, order) if dev else (apid, None, rng.choice(colours), None)

        return [
            ("amp", self._amps),
            ("ap_ing", ap_ing),
            (
                "lic_route",
                lambda: (
                    (a, route[r]) for a, vi in zip(self.amp_id, self.amp_vmp, strict=True) for r in self.vmps[vi].routes
                ),
            ),
            ("ap_info", ap_info),
        ]

    def _ampps(self) -> Iterator[tuple[object, ...]]:
        rng, n = self.rng, self.n
        weights = [len(self.vmps[vi].packs) * rng.lognormvariate(0, 0.4) for vi in self.amp_vmp]
        alloc = _allocate(n.ampp, weights, [w > 0 for w in weights])
        self.ampp_id, self.ampp_vmp, self.ampp_price, self.gtin_ampps = array("q"), array("i"), array("i"), array("q")
        need = min(sum(alloc), max(-(-n.gtin // 4), round(n.gtin / 1.15)))  # packs with GTINs, chosen evenly
        left, self.comb_first, self.comb_ampps = sum(alloc), dict[int, int](), list[tuple[int, int]]()
        for ai, k in enumerate(alloc):
            v = self.vmps[self.amp_vmp[ai]]
            for pi in rng.sample(v.packs if k <= len(v.packs) else [v.packs[i % len(v.packs)] for i in range(k)], k):
                vppid, _, qty, _ = self.vmpps[pi]
                appid, unit, subp = self.ids.ext(), v.unit, None
                if unit in _PLURAL and rng.random() < 0.6:
                    div = [d for d in (7, 8, 10, 12, 14, 15, 16, 20, 25, 28) if qty % d == 0 and qty > d]
                    subp = f"{qty // div[-1]} x {div[-1]} {_PLURAL[unit]}" if div else None
                elif unit == "ml" and rng.random() < 0.5:
                    subp = f"1 x {qty}ml bottle"
                nm = f"{self.amp_desc[ai]} {qty} {unit}" + (f" {subp}" if subp else "")
                comb = "0001" if pi in self.comb_parent else "0002" if pi in self.comb_child else None
                if pi in self.comb_parent:
                    self.comb_ampps.append((appid, pi))
                self.comb_first.setdefault(pi, appid)
                legal = v.legal
                if legal == "0002" and v.vtm and v.vtm["NM"] in {"Paracetamol", "Ibuprofen"}:
                    legal = "0001" if qty <= 16 else "0002" if qty <= 32 else "0003"
                x = rng.random()
                disc = ("0001" if x < 0.1 else "0000", _day(rng, date(2012, 1, 1), self.today).isoformat())
                disc = disc if x < 0.105 else (None, None)
                short = _abbrev(nm) if len(nm) > 70 and rng.random() < 0.3 else None
                self.ampp_id.append(appid)
                self.ampp_vmp.append(self.amp_vmp[ai])
                self.ampp_price.append(max(1, round(qty * v.ppu * rng.uniform(0.6, 1.8))))
                if need and rng.random() * left < need:  # selection sampling: exactly ``need`` packs
                    self.gtin_ampps.append(appid)
                    need -= 1
                left -= 1
                yield appid, _flag(rng, 0.02, "1"), nm, short, vppid, self.amp_id[ai], comb, legal, subp, *disc

    def _ampp_sections(self) -> Sections:
        rng = self.rng

        def day() -> str:
            return _day(rng, date(2008, 1, 1), self.today).isoformat()

        def pack_info() -> Iterator[tuple[object, ...]]:
            for appid, vi in zip(self.ampp_id, self.ampp_vmp, strict=True):
                if self.vmps[vi].form == "device" or rng.random() < 0.01:
                    prev = (day(), "0000") if rng.random() < 0.05 else (None, None)
                    order = str(rng.randint(100000, 999999)) if rng.random() < 0.5 else None
                    yield appid, "0001" if rng.random() < 0.95 else "0000", *prev, order

        def prescrib() -> Iterator[tuple[object, ...]]:
            for appid, vi in zip(self.ampp_id, self.ampp_vmp, strict=True):
                if rng.random() < 0.97:
                    cat, f = self.vmps[vi].cat, _flag
                    sched2, mda = ("0001" if cat in ("0002", "0003") else None), _flag(rng, cat == "0002" and 0.5)
                    yield (appid, sched2, f(rng, 0.01), f(rng, 0.02), mda, f(rng, 0.01, "1"), f(rng, 0.03),
                           f(rng, 0.2), f(rng, 0.03), f(rng, 0.05, "1"))  # fmt: skip

        def price() -> Iterator[tuple[object, ...]]:
            for appid, p in zip(self.ampp_id, self.ampp_price, strict=True):
                x = rng.random()
                if x < 0.02:  # no price available
                    yield appid, None, None, None, "0002"
                elif x < 0.99:
                    yield (
                        (appid, p, day(), round(p * rng.uniform(0.7, 1.3)), "0001")
                        if x < 0.4
                        else (appid, p, None, None, "0001")
                    )

        def reimb() -> Iterator[tuple[object, ...]]:
            for appid in self.ampp_id:
                if rng.random() < 0.99:
                    flags = [_flag(rng, p) for p in (0.05, 0.01, 0.15, 0.08, 0.03, 0.02)]
                    yield appid, "1", "1", *flags

        def ccontent() -> list[tuple[int, int]]:
            return [
                (a, self.comb_first[c]) for a, p in self.comb_ampps for c in self.comb_parent[p] if c in self.comb_first
            ]

        return [("ampp", self._ampps), ("pack_info", pack_info), ("prescrib_info", prescrib), ("price_info", price),
                ("reimb_info", reimb), ("ampp_ccontent", ccontent)]  # fmt: skip

    def _gtin_zip(self, name: str) -> bytes:
        """The nested GTIN zip: both layouts for packs with several GTINs, end-dated ones, 13 and 14 digits."""
        rng, buf, base = self.rng, io.BytesIO(), len(self.gtin_ampps)
        extra = self.n.gtin - base
        counter, rows, need, left = rng.randrange(10**9, 2 * 10**9), 0, extra % base if base else 0, base
        with zipfile.ZipFile(buf, "w") as zf:
            out = _Member(zf, name, self.sizes)
            out.add(f'<?xml version="1.0" encoding="utf-8"?><GTIN_DETAILS {XSI} xsi:noNamespaceSchemaLocation=')
            out.add(f'"gtin_v2_0.xsd"><!-- Generated by NHSBSA PPD on {self.today:%Y/%m/%d} 05:30:06 --><AMPPS>')
            for appid in self.gtin_ampps:
                k = 1 + extra // base + (1 if need and rng.random() * left < need else 0)
                need, left = need - (k - 1 - extra // base), left - 1
                start = _day(rng, date(2006, 1, 1), self.today - timedelta(days=400))
                starts = [start, *sorted(_day(rng, start, self.today) for _ in range(k - 1))]
                gtins, prev = [], ""
                for j, s in enumerate(starts):
                    counter += rng.randint(1, 40)
                    body = rng.choice(("50", "50", "50", "50", "54", "40", "87", "30")) + f"{counter % 10**10:010d}"
                    thirteen, x = body + gs1_check(body), rng.random()
                    code = thirteen
                    if j and x < 0.1:
                        code = "0" + prev  # the previous GTIN again, now written with 14 digits
                    elif x < 0.2:
                        code = "0" + code
                    elif x < 0.28:
                        code = "1" + body + gs1_check("1" + body)
                    prev = thirteen
                    end = starts[j + 1] - timedelta(days=1) if j < k - 1 else None
                    end = _day(rng, s, self.today) if k == 1 and rng.random() < 0.02 else end
                    end_tag = f"<ENDDT>{max(end, s)}</ENDDT>" if end else ""
                    gtins.append(f"<GTINDATA><GTIN>{code}</GTIN><STARTDT>{s}</STARTDT>{end_tag}</GTINDATA>")
                if k > 1 and rng.random() < 0.45:  # the same AMPPID repeated, one GTIN each
                    out.add("".join(f"<AMPP><AMPPID>{appid}</AMPPID>{g}</AMPP>" for g in gtins))
                else:
                    out.add(f"<AMPP><AMPPID>{appid}</AMPPID>{''.join(gtins)}</AMPP>")
                rows += k
            out.add("</AMPPS></GTIN_DETAILS>")
            out.close()
            zf.writestr(_zipinfo("gtin_v2_0.xsd"), (SAMPLE_2019 / "gtin_v2_0.xsd").read_bytes())
        self.counts["gtin"] = rows
        return buf.getvalue()

    def write_main(self, path: Path, ddmmyy: str, week: str) -> None:
        with zipfile.ZipFile(path, "w") as zf:
            vtms, ings = self.vtms, self.ings
            _write_xml(zf, f"f_vtm2_3{ddmmyy}.xml", "vtm", [("vtm", lambda: vtms)], self)
            _write_xml(zf, f"f_vmp2_3{ddmmyy}.xml", "vmp", self._vmp_sections(), self)
            _write_xml(zf, f"f_vmpp2_3{ddmmyy}.xml", "vmpp", self._vmpp_sections(), self)
            _write_xml(zf, f"f_amp2_3{ddmmyy}.xml", "amp", self._amp_sections(), self)
            _write_xml(zf, f"f_ampp2_3{ddmmyy}.xml", "ampp", self._ampp_sections(), self)
            _write_xml(zf, f"f_ingredient2_3{ddmmyy}.xml", "ingredient", [("ing", lambda: ings)], self)
            zf.writestr(_zipinfo(f"f_lookup2_3{ddmmyy}.xml"), self.lookup_bytes)  # the real file, unchanged
            self.sizes[f"f_lookup2_3{ddmmyy}.xml"] = len(self.lookup_bytes)
            self.counts["lookup"] = sum(len(rows) for rows in self.lookup.values())
            for xsd in sorted(SAMPLE_2019.glob("*.xsd")):
                zf.writestr(_zipinfo(xsd.name), xsd.read_bytes())
            gtin = self._gtin_zip(f"f_gtin2_0{ddmmyy}.xml")
            zf.writestr(_zipinfo(f"{week}-r2_3-GTIN.zip", zipfile.ZIP_STORED), gtin)

    # -- supplementary ("bonus") release -----------------------------------------------------------------
    def write_bonus(self, path: Path, ddmmyy: str, week: str) -> None:
        rng, counts = self.rng, self.counts
        with zipfile.ZipFile(SAMPLE_BONUS_ZIP) as sample:
            xsds = {n.rsplit("/", 1)[-1]: sample.read(n) for n in sample.namelist() if n.endswith(".xsd")}
            with zipfile.ZipFile(io.BytesIO(sample.read(next(n for n in sample.namelist() if "BNF" in n)))) as bnf:
                xsds["bnf_v1_0.xsd"] = bnf.read("bnf_v1_0.xsd")
        head = '<?xml version="1.0" encoding="utf-8" ?><{0} xsi:noNamespaceSchemaLocation="{1}" xmlns="" ' + XSI + "  >"
        codes: dict[str, tuple[str, str]] = {}  # VTM -> (BNF code, ATC code)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as bz:
            out = _Member(bz, f"f_bnf1_0{ddmmyy}.xml", self.sizes)
            out.add(head.format("BNF_DETAILS", "bnf_v1_0.xsd") + "<!-- Generated by NHSBSA PPD --><VMPS>")
            counts["bnf_vmp"], counts["bnf_amp"] = 0, 0  # the real file's AMPS section is empty
            for v in self.vmps:
                if rng.random() < 0.15:
                    continue
                key = v.vtm["NM"] if v.vtm else "device"
                if key not in codes:
                    letters = "".join(rng.choices("ABCDEFGHJKLMNPRSTVWXYZ", k=2))
                    atc = f"{rng.choice('ABCDGHJLMNPRSV')}{rng.randint(1, 16):02d}{letters}{rng.randint(1, 30):02d}"
                    bnf = f"{rng.randint(1, 15):02d}{rng.randint(1, 12):02d}{rng.randint(0, 4):02d}00"
                    codes[key] = (bnf, _ATC.get(key, atc))
                bnf, atc = codes[key]
                if v.form == "device":
                    bnf, atc = f"{rng.randint(20, 23)}{rng.randint(1, 40):02d}0000", None
                atc = "n/a" if atc and rng.random() < 0.01 else atc
                ddd = rng.choice(("10", "20", "100", "200", "300", "1000", "2.5", "3"))
                oral = v.form in ("tab", "cap", "caplet", "mrtab", "grcap", "soln", "susp") and rng.random() < 0.7
                out.add(
                    _rec("bnf_vmp", (v.vpid, bnf, atc, ddd, self.uom["mg"]) if oral else (v.vpid, bnf, atc, None, None))
                )
                counts["bnf_vmp"] += 1
            out.add("</VMPS><AMPS/></BNF_DETAILS>")
            out.close()
            bz.writestr(_zipinfo("bnf_v1_0.xsd"), xsds["bnf_v1_0.xsd"])
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(_zipinfo(f"{week}-r2_3-BNF.zip", zipfile.ZIP_STORED), buf.getvalue())
            out = _Member(zf, f"HISTORIC_CODES/f_history1_0{ddmmyy}.xml", self.sizes)
            out.add(head.format("HISTORY", "history_v1_0.xsd") + "<!-- Generated by NHSBSA -->\n")
            counts["history"] = 0
            for section, tag, chains in self._history():
                out.add(f"<{section}>\n")
                for cur, prevs, since in chains:  # every id, with its chain of previous ids (oldest first)
                    start = _day(rng, date(2004, 6, 1), since or self.today)
                    ends = [*sorted(_day(rng, start, since) for _ in prevs[1:]), since] if since else []
                    for p, end in zip(prevs, ends, strict=False):
                        out.add(f"<{tag}><IDCURRENT>{cur}</IDCURRENT><IDPREVIOUS>{p}</IDPREVIOUS><STARTDT>{start}")
                        out.add(f"</STARTDT><ENDDT>{max(start, end - timedelta(days=1))}</ENDDT></{tag}>\n")
                        start = max(start, end)
                    out.add(f"<{tag}><IDCURRENT>{cur}</IDCURRENT><IDPREVIOUS>{cur}</IDPREVIOUS>")
                    out.add(f"<STARTDT>{since or start}</STARTDT></{tag}>\n")
                    counts["history"] += 1 + len(ends)
                out.add(f"</{section}>\n")
            out.add("</HISTORY>\n")
            out.close()
            zf.writestr(_zipinfo("HISTORIC_CODES/history_v1_0.xsd"), xsds["history_v1_0.xsd"])
            out = _Member(zf, f"VTM_INGREDIENTS/f_vtm_ing1_0{ddmmyy}.xml", self.sizes)
            out.add(head.format("VTM_INGREDIENTS", "vtm_ing_v1_0.xsd") + "<!-- Generated by NHSBSA -->\n")
            pairs = sorted({(int(v), int(i)) for v, ings in self.vtm_ings.items() for i in ings})
            out.add("".join(f"<VTM_ING><VTMID>{v}</VTMID><ISID>{i}</ISID></VTM_ING>\n" for v, i in pairs))
            out.add("</VTM_INGREDIENTS>\n")
            out.close()
            counts["vtm_ing"] = len(pairs)
            zf.writestr(_zipinfo("VTM_INGREDIENTS/vtm_ing_v1_0.xsd"), xsds["vtm_ing_v1_0.xsd"])

    def _history(self) -> Iterator[tuple[str, str, list[tuple[object, list[object], date | None]]]]:
        """(section, tag, [(current id, previous ids oldest first, date the current id took over)])."""

        def chains(
            rows: list[dict[str, str]], cur: str, prev: str, dt: str
        ) -> list[tuple[object, list[object], date | None]]:
            return [
                (r[cur], [r[prev]] if r.get(prev) else [], date.fromisoformat(r[dt]) if r.get(dt) else None)
                for r in rows
            ]

        yield "VTMS", "VTM", chains(self.vtms, "VTMID", "VTMIDPREV", "VTMIDDT")
        yield "VMPS", "VMP", [(v.vpid, v.prev[::-1], v.iddt) for v in self.vmps]
        yield "INGS", "ING", chains(self.ings, "ISID", "ISIDPREV", "ISIDDT")
        for section, tag, table in (("SUPPS", "SUPP", "SUPPLIER"), ("FORMS", "FORM", "FORM"),
                                    ("ROUTES", "ROUTE", "ROUTE"), ("UOMS", "UOM", "UNIT_OF_MEASURE")):  # fmt: skip
            yield section, tag, chains(self.lookup[table], "CD", "CDPREV", "CDDT")


def generate_release(
    out_dir: Path,
    counts: ReleaseCounts,
    *,
    seed: int = 1,
    release_date: date = date(2025, 11, 10),
    version: str = "11.1.0",
    bonus: bool = False,
) -> GeneratedRelease:
    """Write ``nhsbsa_dmd_<version>_<YYYYMMDD>000001.zip`` (and with ``bonus`` the dmdbonus zip) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = _Generator(counts, seed, release_date)
    ddmmyy, stamp = release_date.strftime("%d%m%y"), release_date.strftime("%Y%m%d")
    week = f"week{release_date.isocalendar().week:02d}{release_date.isocalendar().year}"
    main_zip = out_dir / f"nhsbsa_dmd_{version}_{stamp}000001.zip"
    gen.write_main(main_zip, ddmmyy, week)
    bonus_zip = out_dir / f"nhsbsa_dmdbonus_{version}_{stamp}000001.zip" if bonus else None
    if bonus_zip is not None:
        gen.write_bonus(bonus_zip, ddmmyy, week)
    return GeneratedRelease(main_zip, bonus_zip, dict(gen.counts), dict(gen.sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic dm+d release in the TRUD layout.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bonus", action="store_true", help="also write the supplementary (bonus) release")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = generate_release(args.out, PRESETS[args.preset], seed=args.seed, bonus=args.bonus)
    elapsed = time.perf_counter() - started
    for path in (result.main_zip, result.bonus_zip):
        if path is not None:
            print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    for name, size in result.sizes.items():
        print(f"  {name:<42} {size / 1e6:9.2f} MB")
    for table, n in result.counts.items():
        print(f"  {table:<16} {n:>9,}")
    print(f"generated in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
