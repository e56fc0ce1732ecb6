"""One table-driven description of the dm+d release: it drives parsing, table creation and tests.

Every record type of every XSD (main release and supplementary "bonus" release) is listed here with every
field. Column names are the XML tag names in lower case. Storage follows DESIGN.md section 4:

* ``ID``: SNOMED identifiers (up to 18 digits), stored as INTEGER.
* ``CODE``: lookup codes, stored as TEXT exactly as written so ``0001`` keeps its leading zeros.
* ``FLAG``: present-means-true indicators (``1`` or ``0001``), stored as INTEGER 1, absent as NULL.
* ``INT``: plain integers such as prices in pence.
* ``REAL``: quantities and strengths.
* ``TEXT`` and ``DATE`` (``YYYY-MM-DD``) are stored as TEXT.

SQLite column affinity does the conversion inside the C loop, so the parser passes element text untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# 2: the search index in two parts (products, packs); 3: the packs in a file of their own; 4: only the small
# kinds' search documents listed (search_index.py)
SCHEMA_VERSION = 4


class FieldKind(Enum):
    # Values are distinct on purpose: members with equal values would be aliases of one another.
    ID = "id"
    CODE = "code"
    FLAG = "flag"
    INT = "int"
    REAL = "real"
    TEXT = "text"
    DATE = "date"

    @property
    def sql_type(self) -> str:
        """The column's SQLite type (its affinity does the conversion from the XML text)."""
        return _SQL_TYPES[self]


_SQL_TYPES = {
    FieldKind.ID: "INTEGER",
    FieldKind.CODE: "TEXT",
    FieldKind.FLAG: "INTEGER",
    FieldKind.INT: "INTEGER",
    FieldKind.REAL: "REAL",
    FieldKind.TEXT: "TEXT",
    FieldKind.DATE: "TEXT",
}


@dataclass(frozen=True)
class Field:
    tag: str
    kind: FieldKind
    required: bool = False

    @property
    def column(self) -> str:
        return self.tag.lower()


@dataclass(frozen=True)
class RecordType:
    """One kind of ``<RECORD>`` element and the table it lands in."""

    table: str
    source: str  # key of the release file (see ReleaseFile)
    section: str  # enclosing element, e.g. VMPS
    tag: str  # record element, e.g. VMP
    fields: tuple[Field, ...]
    # Extra leading column filled by the parser, e.g. the lookup table name for LOOKUP/INFO rows.
    discriminator: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        extra = (self.discriminator,) if self.discriminator else ()
        return extra + tuple(f.column for f in self.fields) + self.derived_columns

    @property
    def derived_columns(self) -> tuple[str, ...]:
        return ("gtin14",) if self.table == "gtin" else ()

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(f.tag for f in self.fields)


@dataclass(frozen=True)
class ReleaseFile:
    """One XML file of a release, found by its name prefix (``f_vmp2_`` matches ``f_vmp2_3010419.xml``)."""

    key: str
    prefix: str
    root: str
    bonus: bool = False


def _f(spec: str) -> tuple[Field, ...]:
    """Parse a compact field list: ``"VPID:id! NM:text! ABBREVNM:text"``; ``!`` marks a required field."""
    fields = []
    for item in spec.split():
        tag, kind = item.split(":")
        required = kind.endswith("!")
        fields.append(Field(tag, FieldKind[kind.rstrip("!").upper()], required))
    return tuple(fields)


RELEASE_FILES: tuple[ReleaseFile, ...] = (
    ReleaseFile("vtm", "f_vtm2_", "VIRTUAL_THERAPEUTIC_MOIETIES"),
    ReleaseFile("vmp", "f_vmp2_", "VIRTUAL_MED_PRODUCTS"),
    ReleaseFile("vmpp", "f_vmpp2_", "VIRTUAL_MED_PRODUCT_PACK"),
    ReleaseFile("amp", "f_amp2_", "ACTUAL_MEDICINAL_PRODUCTS"),
    ReleaseFile("ampp", "f_ampp2_", "ACTUAL_MEDICINAL_PROD_PACKS"),
    ReleaseFile("ingredient", "f_ingredient2_", "INGREDIENT_SUBSTANCES"),
    ReleaseFile("lookup", "f_lookup2_", "LOOKUP"),
    ReleaseFile("gtin", "f_gtin2_", "GTIN_DETAILS"),
    ReleaseFile("bnf", "f_bnf1_", "BNF_DETAILS", bonus=True),
    ReleaseFile("history", "f_history1_", "HISTORY", bonus=True),
    ReleaseFile("vtm_ing", "f_vtm_ing1_", "VTM_INGREDIENTS", bonus=True),
)
MAIN_FILES = tuple(f for f in RELEASE_FILES if not f.bonus)
BONUS_FILES = tuple(f for f in RELEASE_FILES if f.bonus)

# The 26 lookup tables of lookup_v2_3.xsd, in file order, with the layout of their INFO records.
LOOKUP_TABLES: dict[str, str] = {
    "COMBINATION_PACK_IND": "info",
    "COMBINATION_PROD_IND": "info",
    "BASIS_OF_NAME": "info",
    "NAMECHANGE_REASON": "info",
    "VIRTUAL_PRODUCT_PRES_STATUS": "info",
    "CONTROL_DRUG_CATEGORY": "info",
    "LICENSING_AUTHORITY": "info",
    "UNIT_OF_MEASURE": "history",
    "FORM": "history",
    "ONT_FORM_ROUTE": "info",
    "ROUTE": "history",
    "DT_PAYMENT_CATEGORY": "info",
    "SUPPLIER": "supplier",
    "FLAVOUR": "info",
    "COLOUR": "info",
    "BASIS_OF_STRNTH": "info",
    "REIMBURSEMENT_STATUS": "info",
    "SPEC_CONT": "info",
    "DND": "info",
    "VIRTUAL_PRODUCT_NON_AVAIL": "info",
    "DISCONTINUED_IND": "info",
    "DF_INDICATOR": "info",
    "PRICE_BASIS": "info",
    "LEGAL_CATEGORY": "info",
    "AVAILABILITY_RESTRICTION": "info",
    "LICENSING_AUTHORITY_CHANGE_REASON": "info",
}

# History chains of the bonus file: section -> record tag -> kind of id.
HISTORY_SECTIONS: dict[str, str] = {
    "VTMS": "VTM",
    "VMPS": "VMP",
    "INGS": "ING",
    "SUPPS": "SUPP",
    "FORMS": "FORM",
    "ROUTES": "ROUTE",
    "UOMS": "UOM",
}

RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType(
        "vtm",
        "vtm",
        "VIRTUAL_THERAPEUTIC_MOIETIES",
        "VTM",
        _f("VTMID:id! INVALID:flag NM:text! ABBREVNM:text VTMIDPREV:id VTMIDDT:date"),
    ),
    RecordType(
        "vmp",
        "vmp",
        "VMPS",
        "VMP",
        _f(
            "VPID:id! VPIDDT:date VPIDPREV:id VTMID:id INVALID:flag NM:text! ABBREVNM:text BASISCD:code! "
            "NMDT:date NMPREV:text BASIS_PREVCD:code NMCHANGECD:code COMBPRODCD:code PRES_STATCD:code! "
            "SUG_F:flag GLU_F:flag PRES_F:flag CFC_F:flag NON_AVAILCD:code NON_AVAILDT:date DF_INDCD:code "
            "UDFS:real UDFS_UOMCD:code UNIT_DOSE_UOMCD:code"
        ),
    ),
    RecordType(
        "vpi",
        "vmp",
        "VIRTUAL_PRODUCT_INGREDIENT",
        "VPI",
        _f(
            "VPID:id! ISID:id! BASIS_STRNTCD:code BS_SUBID:id STRNT_NMRTR_VAL:real STRNT_NMRTR_UOMCD:code "
            "STRNT_DNMTR_VAL:real STRNT_DNMTR_UOMCD:code"
        ),
    ),
    RecordType("ont", "vmp", "ONT_DRUG_FORM", "ONT", _f("VPID:id! FORMCD:code!")),
    RecordType("dform", "vmp", "DRUG_FORM", "DFORM", _f("VPID:id! FORMCD:code!")),
    RecordType("droute", "vmp", "DRUG_ROUTE", "DROUTE", _f("VPID:id! ROUTECD:code!")),
    RecordType(
        "control_info",
        "vmp",
        "CONTROL_DRUG_INFO",
        "CONTROL_INFO",
        _f("VPID:id! CATCD:code! CATDT:date CAT_PREVCD:code"),
    ),
    RecordType(
        "vmpp",
        "vmpp",
        "VMPPS",
        "VMPP",
        _f("VPPID:id! INVALID:flag NM:text! ABBREVNM:text VPID:id! QTYVAL:real! QTY_UOMCD:code! COMBPACKCD:code"),
    ),
    RecordType(
        "dtinfo",
        "vmpp",
        "DRUG_TARIFF_INFO",
        "DTINFO",
        _f("VPPID:id! PAY_CATCD:code! PRICE:int DT:date PREVPRICE:int"),
    ),
    RecordType("vmpp_ccontent", "vmpp", "COMB_CONTENT", "CCONTENT", _f("PRNTVPPID:id! CHLDVPPID:id!")),
    RecordType(
        "amp",
        "amp",
        "AMPS",
        "AMP",
        _f(
            "APID:id! INVALID:flag VPID:id! NM:text! ABBREVNM:text DESC:text! NMDT:date NM_PREV:text "
            "SUPPCD:code! LIC_AUTHCD:code! LIC_AUTH_PREVCD:code LIC_AUTHCHANGECD:code LIC_AUTHCHANGEDT:date "
            "COMBPRODCD:code FLAVOURCD:code EMA:flag PARALLEL_IMPORT:flag AVAIL_RESTRICTCD:code!"
        ),
    ),
    RecordType(
        "ap_ing",
        "amp",
        "AP_INGREDIENT",
        "AP_ING",
        _f("APID:id! ISID:id! STRNTH:real UOMCD:code"),
    ),
    RecordType("lic_route", "amp", "LICENSED_ROUTE", "LIC_ROUTE", _f("APID:id! ROUTECD:code!")),
    RecordType(
        "ap_info",
        "amp",
        "AP_INFORMATION",
        "AP_INFO",
        _f("APID:id! SZ_WEIGHT:text COLOURCD:code PROD_ORDER_NO:text"),
    ),
    RecordType(
        "ampp",
        "ampp",
        "AMPPS",
        "AMPP",
        _f(
            "APPID:id! INVALID:flag NM:text! ABBREVNM:text VPPID:id! APID:id! COMBPACKCD:code "
            "LEGAL_CATCD:code! SUBP:text DISCCD:code DISCDT:date"
        ),
    ),
    RecordType(
        "pack_info",
        "ampp",
        "APPLIANCE_PACK_INFO",
        "PACK_INFO",
        _f("APPID:id! REIMB_STATCD:code! REIMB_STATDT:date REIMB_STATPREVCD:code PACK_ORDER_NO:text"),
    ),
    RecordType(
        "prescrib_info",
        "ampp",
        "DRUG_PRODUCT_PRESCRIB_INFO",
        "PRESCRIB_INFO",
        _f(
            "APPID:id! SCHED_2:flag ACBS:flag PADM:flag FP10_MDA:flag SCHED_1:flag HOSP:flag NURSE_F:flag "
            "ENURSE_F:flag DENT_F:flag"
        ),
    ),
    RecordType(
        "price_info",
        "ampp",
        "MEDICINAL_PRODUCT_PRICE",
        "PRICE_INFO",
        _f("APPID:id! PRICE:int PRICEDT:date PRICE_PREV:int PRICE_BASISCD:code!"),
    ),
    RecordType(
        "reimb_info",
        "ampp",
        "REIMBURSEMENT_INFO",
        "REIMB_INFO",
        _f(
            "APPID:id! PX_CHRGS:int DISP_FEES:int BB:flag LTD_STAB:flag CAL_PACK:flag SPEC_CONTCD:code "
            "DND:code FP34D:flag"
        ),
    ),
    RecordType("ampp_ccontent", "ampp", "COMB_CONTENT", "CCONTENT", _f("PRNTAPPID:id! CHLDAPPID:id!")),
    RecordType(
        "ing",
        "ingredient",
        "INGREDIENT_SUBSTANCES",
        "ING",
        _f("ISID:id! ISIDDT:date ISIDPREV:id INVALID:flag NM:text!"),
    ),
    RecordType(
        "lookup",
        "lookup",
        "*",
        "INFO",
        _f("CD:code! CDDT:date CDPREV:code INVALID:flag DESC:text!"),
        discriminator="type",
    ),
    # GTINDATA rows are flattened under their AMPP: one row per GTIN, whichever of the two layouts is used.
    RecordType(
        "gtin",
        "gtin",
        "AMPP",
        "GTINDATA",
        _f("AMPPID:id! GTIN:text! STARTDT:date! ENDDT:date"),
    ),
    RecordType("bnf_vmp", "bnf", "VMPS", "VMP", _f("VPID:id! BNF:text ATC:text DDD:real DDD_UOMCD:code")),
    RecordType("bnf_amp", "bnf", "AMPS", "AMP", _f("APID:id! BNF:text")),
    RecordType(
        "history",
        "history",
        "*",
        "*",
        _f("IDCURRENT:id! IDPREVIOUS:id! STARTDT:date! ENDDT:date"),
        discriminator="type",
    ),
    RecordType("vtm_ing", "vtm_ing", "VTM_INGREDIENTS", "VTM_ING", _f("VTMID:id! ISID:id!")),
)

RECORD_TYPES_BY_TABLE = {rt.table: rt for rt in RECORD_TYPES}
BONUS_TABLES = tuple(rt.table for rt in RECORD_TYPES if rt.source in {f.key for f in BONUS_FILES})


def record_types_for(source: str) -> tuple[RecordType, ...]:
    return tuple(rt for rt in RECORD_TYPES if rt.source == source)
