"""The replica built from the real NHS dm+d samples, checked against the XML itself (read here with lxml)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import zipfile
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from core.dmd import build as build_module
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.errors import NotFoundError
from core.dmd.layout import attach_files, packs_files
from core.dmd.schema import RECORD_TYPES, RECORD_TYPES_BY_TABLE, SCHEMA_VERSION, RecordType
from tests.conftest import BuiltReplica
from tests.release_zips import SAMPLE_2019, SAMPLE_2021, SAMPLE_BONUS_ZIP

# Where each table's records are in the release, written out here from the XSDs and the NHSBSA specification
# (not taken from core.dmd.schema): file name prefix and the XPath of one record element.
RECORD_XPATHS: dict[str, tuple[str, str]] = {
    "vtm": ("f_vtm2_", "/VIRTUAL_THERAPEUTIC_MOIETIES/VTM"),
    "vmp": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/VMPS/VMP"),
    "vpi": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/VIRTUAL_PRODUCT_INGREDIENT/VPI"),
    "ont": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/ONT_DRUG_FORM/ONT"),
    "dform": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/DRUG_FORM/DFORM"),
    "droute": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/DRUG_ROUTE/DROUTE"),
    "control_info": ("f_vmp2_", "/VIRTUAL_MED_PRODUCTS/CONTROL_DRUG_INFO/CONTROL_INFO"),
    "vmpp": ("f_vmpp2_", "/VIRTUAL_MED_PRODUCT_PACK/VMPPS/VMPP"),
    "dtinfo": ("f_vmpp2_", "/VIRTUAL_MED_PRODUCT_PACK/DRUG_TARIFF_INFO/DTINFO"),
    "vmpp_ccontent": ("f_vmpp2_", "/VIRTUAL_MED_PRODUCT_PACK/COMB_CONTENT/CCONTENT"),
    "amp": ("f_amp2_", "/ACTUAL_MEDICINAL_PRODUCTS/AMPS/AMP"),
    "ap_ing": ("f_amp2_", "/ACTUAL_MEDICINAL_PRODUCTS/AP_INGREDIENT/AP_ING"),
    "lic_route": ("f_amp2_", "/ACTUAL_MEDICINAL_PRODUCTS/LICENSED_ROUTE/LIC_ROUTE"),
    "ap_info": ("f_amp2_", "/ACTUAL_MEDICINAL_PRODUCTS/AP_INFORMATION/AP_INFO"),
    "ampp": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/AMPPS/AMPP"),
    "pack_info": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/APPLIANCE_PACK_INFO/PACK_INFO"),
    "prescrib_info": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/DRUG_PRODUCT_PRESCRIB_INFO/PRESCRIB_INFO"),
    "price_info": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/MEDICINAL_PRODUCT_PRICE/PRICE_INFO"),
    "reimb_info": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/REIMBURSEMENT_INFO/REIMB_INFO"),
    "ampp_ccontent": ("f_ampp2_", "/ACTUAL_MEDICINAL_PROD_PACKS/COMB_CONTENT/CCONTENT"),
    "ing": ("f_ingredient2_", "/INGREDIENT_SUBSTANCES/ING"),
    "lookup": ("f_lookup2_", "/LOOKUP/*/INFO"),
    "gtin": ("f_gtin2_", "/GTIN_DETAILS/AMPPS/AMPP/GTINDATA"),
    "bnf_vmp": ("f_bnf1_", "/BNF_DETAILS/VMPS/VMP"),
    "bnf_amp": ("f_bnf1_", "/BNF_DETAILS/AMPS/AMP"),
    "history": ("f_history1_", "/HISTORY/*/*"),
    "vtm_ing": ("f_vtm_ing1_", "/VTM_INGREDIENTS/VTM_ING"),
}
BONUS_PREFIXES = ("f_bnf1_", "f_history1_", "f_vtm_ing1_")


# ------------------------------------------------------------------------------------------ reading the XML


def _zip_members(zf: zipfile.ZipFile) -> Iterator[tuple[str, bytes]]:
    for name in zf.namelist():
        data = zf.read(name)
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                yield from _zip_members(inner)
        else:
            yield name.rsplit("/", 1)[-1], data


def _files(location: Path) -> Iterator[tuple[str, bytes]]:
    if location.is_dir():
        for path in sorted(location.rglob("*.xml")):
            yield path.name, path.read_bytes()
    else:
        with zipfile.ZipFile(location) as zf:
            yield from _zip_members(zf)


@cache
def xml_root(location: Path, prefix: str) -> Any:
    """The root element of the one file named ``prefix…xml`` in a folder or a (nested) zip."""
    found = [data for name, data in _files(location) if name.startswith(prefix) and name.endswith(".xml")]
    assert len(found) == 1, f"{location.name}: expected one {prefix} file, found {len(found)}"
    return etree.fromstring(found[0], parser=etree.XMLParser(huge_tree=True))


def xml_records(replica: BuiltReplica, table: str) -> list[Any]:
    prefix, xpath = RECORD_XPATHS[table]
    location = replica.bonus if prefix in BONUS_PREFIXES else replica.main
    assert location is not None
    return list(xml_root(location, prefix).xpath(xpath))


def text_of(record: Any, tag: str) -> str | None:
    child = record.find(tag)
    return None if child is None else child.text


def table_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table of a replica, whichever of its files holds the table."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        attach_files(conn, path)
        rows = conn.execute(f"SELECT * FROM {table}").fetchall()
    finally:
        conn.close()
    return sorted(rows, key=repr)


def count_rows(cat: Catalogue, table: str) -> int:
    return int(cat.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", params=["2019", "2021"])
def sample(request: pytest.FixtureRequest) -> BuiltReplica:
    built: BuiltReplica = request.getfixturevalue(f"replica_{request.param}")
    return built


@pytest.fixture(scope="module")
def sample_catalogue(sample: BuiltReplica) -> Iterator[Catalogue]:
    with Catalogue(sample.path) as cat:
        yield cat


# ------------------------------------------------------------------------------------------ counts


def test_every_record_type_has_an_xpath() -> None:
    assert set(RECORD_XPATHS) == {rt.table for rt in RECORD_TYPES}


@pytest.mark.parametrize("rt", RECORD_TYPES, ids=lambda rt: rt.table)
def test_row_count_equals_xml_record_count(sample: BuiltReplica, sample_catalogue: Catalogue, rt: RecordType) -> None:
    expected = len(xml_records(sample, rt.table))
    assert count_rows(sample_catalogue, rt.table) == expected
    assert sample.result.counts[rt.table] == expected
    assert sample_catalogue.table_counts()[rt.table] == expected


def test_the_samples_exercise_every_table(replica_2019: BuiltReplica, replica_2021: BuiltReplica) -> None:
    """The count test above means something: every table has records in some sample (bnf_amp: edge cases)."""
    nonempty = {t for r in (replica_2019, replica_2021) for t, n in r.result.counts.items() if n > 0}
    assert {rt.table for rt in RECORD_TYPES} - nonempty == {"bnf_amp"}


def test_known_sizes_of_the_complete_files(replica_2019: BuiltReplica) -> None:
    counts = replica_2019.result.counts
    assert (counts["vtm"], counts["ing"], counts["vmp"], counts["amp"], counts["ampp"], counts["gtin"]) == (
        2859,
        3482,
        7,
        15,
        26,
        16,
    )


def test_clean_samples_import_without_warnings(replica_2019: BuiltReplica, replica_2021: BuiltReplica) -> None:
    assert replica_2019.result.warnings == []
    assert replica_2021.result.warnings == []


# ------------------------------------------------------------------------------------------ barcodes


def test_every_gtin_is_found_by_13_and_14_digits(sample: BuiltReplica, sample_catalogue: Catalogue) -> None:
    gtins = xml_records(sample, "gtin")
    assert gtins
    for gtindata in gtins:
        code = text_of(gtindata, "GTIN")
        amppid = int(text_of(gtindata.getparent(), "AMPPID") or "")
        end = text_of(gtindata, "ENDDT")
        assert code is not None
        as14 = code.zfill(14)
        assert as14[0] == "0", "the samples hold GTIN-13s (and their 14-digit forms)"
        for form in (as14[1:], as14):
            matches = sample_catalogue.find_gtin(form)
            mine = [m for m in matches if m.gtin == code and m.ampp_id == amppid]
            assert len(mine) == 1, f"{form} -> {matches}"
            assert mine[0].end_date == end
            assert mine[0].end_dated is (end is not None)
            assert mine[0].start_date == text_of(gtindata, "STARTDT")


def test_gtin_written_as_13_and_14_digits_finds_both_rows(catalogue_2019: Catalogue) -> None:
    """The 2019 sample lists 5060064792018 (end-dated) and 05060064792018 (current) for one pack."""
    for form in ("5060064792018", "05060064792018"):
        matches = catalogue_2019.find_gtin(form)
        assert [(m.gtin, m.ampp_id, m.end_dated) for m in matches] == [
            ("05060064792018", 21855511000001108, False),
            ("5060064792018", 21855511000001108, True),
        ]
        assert matches[0].ampp_name == "Adenosine 6mg/2ml solution for injection vials (Advanz Pharma) 6 vial"


def test_ampp_with_several_gtins_lists_them_all_in_its_detail(catalogue_2019: Catalogue) -> None:
    detail = catalogue_2019.product_detail(1714711000001106)
    pack = detail["amps"][0]["packs"]
    [mine] = [p for p in pack if p["appid"] == "1714711000001106"]
    assert mine["gtins"] == [
        {"gtin": "8712400360258", "start_date": "2013-07-22", "end_date": None, "end_dated": False},
        {"gtin": "8712400158572", "start_date": "2010-02-01", "end_date": "2013-07-21", "end_dated": True},
    ]


# ------------------------------------------------------------------------------------------ search, ids


def test_every_vmp_is_found_by_its_full_name(sample: BuiltReplica, sample_catalogue: Catalogue) -> None:
    vmps = xml_records(sample, "vmp")
    assert vmps
    for vmp in vmps:
        name = text_of(vmp, "NM")
        assert name is not None
        vpid = int(text_of(vmp, "VPID") or "")
        hits = sample_catalogue.search(name, include_hidden=True)
        assert any(h.type == "vmp" and h.id == vpid for h in hits), f"{name!r} -> {hits}"
        assert hits[0].name == name
        if text_of(vmp, "INVALID") is None and text_of(vmp, "NON_AVAILCD") is None:
            assert any(h.type == "vmp" and h.id == vpid for h in sample_catalogue.search(name))


def test_previous_vmp_id_resolves_to_the_current_vmp(catalogue_2019: Catalogue) -> None:
    resolved = catalogue_2019.resolve_id(347209005)
    assert (resolved.kind, resolved.id, resolved.previous_id) == ("vmp", 36016311000001102, 347209005)
    detail = catalogue_2019.product_detail("347209005")
    assert detail["id"] == "36016311000001102"
    assert detail["resolved_from"] == "347209005"
    assert detail["vmp"]["nm"] == "Pilocarpine hydrochloride 6% eye drops preservative free"


def test_current_id_resolves_to_itself(catalogue_2019: Catalogue) -> None:
    resolved = catalogue_2019.resolve_id(" 36016311000001102 ")
    assert (resolved.kind, resolved.id, resolved.previous_id) == ("vmp", 36016311000001102, None)


def test_previous_vtm_id_resolves_to_the_current_vtm(catalogue_2021: Catalogue) -> None:
    resolved = catalogue_2021.resolve_id(354303007)
    assert (resolved.kind, resolved.id, resolved.previous_id) == ("vtm", 34186711000001102, 354303007)
    detail = catalogue_2021.product_detail(354303007)
    assert detail["vtm"]["nm"] == "Co-amilofruse"
    assert [v["vpid"] for v in detail["vmps"]] == ["318135008", "318136009"]


@pytest.mark.parametrize(
    ("old", "kind", "current"),
    [
        (10406411000001101, "vmp", 318135008),  # only in the bonus HISTORIC_CODES file
        (3512011000001109, "ing", 387516008),
    ],
)
def test_bonus_history_resolves_old_ids(catalogue_2021: Catalogue, old: int, kind: str, current: int) -> None:
    resolved = catalogue_2021.resolve_id(old)
    assert (resolved.kind, resolved.id, resolved.previous_id) == (kind, current, old)


def test_history_only_id_needs_the_bonus_release(tmp_path: Path, zip_2021: Path) -> None:
    target = tmp_path / "dmd.sqlite"
    build_replica(target, zip_2021, parallel=False)
    with Catalogue(target) as cat:
        with pytest.raises(NotFoundError, match="10406411000001101"):
            cat.resolve_id(10406411000001101)
        assert cat.resolve_id(3512011000001109).id == 387516008  # ISIDPREV of the main release


@pytest.mark.parametrize(("section", "table", "id_tag"), [("VTMS", "vtm", "VTMID"), ("VMPS", "vmp", "VPID")])
def test_bonus_2024_history_chains_resolve(
    replica_2019: BuiltReplica, catalogue_2019: Catalogue, section: str, table: str, id_tag: str
) -> None:
    current_ids = {int(text_of(r, id_tag) or "") for r in xml_records(replica_2019, table)}
    history = xml_root(SAMPLE_BONUS_ZIP, "f_history1_").find(section)
    targets: dict[int, set[int]] = {}
    for rec in history:
        if isinstance(rec.tag, str):
            targets.setdefault(int(text_of(rec, "IDPREVIOUS") or ""), set()).add(int(text_of(rec, "IDCURRENT") or ""))
    chains = [
        (old, next(iter(new)))
        for old, new in targets.items()
        if len(new) == 1 and old not in new and old not in current_ids and next(iter(new)) in current_ids
    ]
    assert chains
    for old, new in chains[:50]:
        resolved = catalogue_2019.resolve_id(old)
        assert (resolved.kind, resolved.id, resolved.previous_id) == (table, new, old)


# ------------------------------------------------------------------------------------------ bonus data


def test_vmp_detail_shows_bnf_and_atc(catalogue_2021: Catalogue) -> None:
    bnf = catalogue_2021.product_detail(318136009)["vmp"]["bnf"]
    assert bnf == {
        "bnf": "02020400",
        "atc": "C03EB01",
        "ddd": 240.0,
        "ddd_uomcd": {"code": "258684004", "description": "mg"},
    }


def test_bonus_2024_bnf_and_literal_na_atc(catalogue_2019: Catalogue) -> None:
    assert catalogue_2019.product_detail(22480211000001104)["vmp"]["bnf"]["atc"] == "M02AA15"
    nutrison = catalogue_2019.product_detail(3549611000001100)["vmp"]["bnf"]
    assert nutrison == {"bnf": "09140101", "atc": "n/a"}


def test_catalogue_counts_include_bonus(catalogue_2021: Catalogue) -> None:
    assert catalogue_2021.counts() == {
        "vtm": 1,
        "vmp": 2,
        "vmpp": 2,
        "amp": 3,
        "ampp": 2,
        "gtin": 2,
        "ingredient": 4,
        "lookup": 3384,
        "bnf": 1,
        "history": 10,
        "vtm_ingredient": 2,
    }


def test_bonus_from_its_folder_equals_bonus_from_its_zip(
    tmp_path: Path, zip_2021: Path, catalogue_2021: Catalogue
) -> None:
    target = tmp_path / "dmd.sqlite"
    build_replica(target, zip_2021, SAMPLE_2021, parallel=False)
    with Catalogue(target) as cat:
        assert cat.table_counts() == catalogue_2021.table_counts()
        for table in ("bnf_vmp", "history", "vtm_ing"):
            assert table_rows(target, table) == table_rows(catalogue_2021.path, table)


# ------------------------------------------------------------------------------------------ folder, parallel


@pytest.mark.parametrize(
    ("folder", "bonus", "built"), [(SAMPLE_2019, SAMPLE_BONUS_ZIP, "2019"), (SAMPLE_2021, None, "2021")]
)
def test_extracted_folder_gives_the_same_replica_as_the_zip(
    request: pytest.FixtureRequest, tmp_path: Path, folder: Path, bonus: Path | None, built: str
) -> None:
    from_zip: BuiltReplica = request.getfixturevalue(f"replica_{built}")
    bonus = bonus or from_zip.bonus
    target = tmp_path / "dmd.sqlite"
    result = build_replica(target, folder, bonus, parallel=False)
    assert result.counts == from_zip.result.counts
    with Catalogue(target) as cat, Catalogue(from_zip.path) as ref:
        assert cat.table_counts() == ref.table_counts()
        info = cat.release()
        assert info.name == folder.name
        assert info.release_date == ref.release().release_date
    for rt in RECORD_TYPES:
        assert table_rows(target, rt.table) == table_rows(from_zip.path, rt.table), rt.table


def test_parallel_and_serial_builds_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replica_2019: BuiltReplica
) -> None:
    workers: list[object] = []

    class SpyWorker(build_module.ParseWorker):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            workers.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(build_module, "ParseWorker", SpyWorker)
    target = tmp_path / "dmd.sqlite"
    result = build_replica(target, replica_2019.main, replica_2019.bonus, parallel=True)
    assert len(workers) == 1, "parallel=True must parse part of the release in a second process"
    assert result.counts == replica_2019.result.counts
    assert result.warnings == replica_2019.result.warnings
    for table in [rt.table for rt in RECORD_TYPES] + ["search_doc", "import_warning"]:
        assert table_rows(target, table) == table_rows(replica_2019.path, table), table
    serial = {k: v for k, v in table_rows(replica_2019.path, "release_meta") if k != "built_at"}
    parallel = {k: v for k, v in table_rows(target, "release_meta") if k != "built_at"}
    assert parallel == serial
    # The packs' search index was built in the worker, in the packs file: FTS5 finds both parts whole and sound.
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')")
    with contextlib.closing(sqlite3.connect(packs_files(target)[0])) as conn:
        conn.execute("INSERT INTO pack_fts (pack_fts) VALUES ('integrity-check')")
    with Catalogue(target) as cat, Catalogue(replica_2019.path) as ref:
        for query in ("para", "tab", "amox 250", "mg", "zz", "caps 28", "co-"):
            for hidden in (False, True):
                found = cat.search(query, limit=50, include_hidden=hidden)
                assert found == ref.search(query, limit=50, include_hidden=hidden), query
        [(pack_id, pack_name)] = cat.conn.execute("SELECT appid, nm FROM ampp LIMIT 1")
        assert any(hit.type == "ampp" and hit.id == pack_id for hit in cat.search(pack_name, include_hidden=True))


# ------------------------------------------------------------------------------------------ fields


# One record of each record type, field by field, as stored: ids and flags as int, codes and dates as text,
# prices as integer pence, quantities as real. (table, key columns, every column of the row.)
SPOT_CHECKS_2021: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "vtm",
        {"vtmid": 34186711000001102},
        {
            "vtmid": 34186711000001102,
            "invalid": None,
            "nm": "Co-amilofruse",
            "abbrevnm": None,
            "vtmidprev": 354303007,
            "vtmiddt": "2017-03-10",
        },
    ),
    (
        "vmp",
        {"vpid": 318136009},
        {
            "vpid": 318136009,
            "vpiddt": None,
            "vpidprev": None,
            "vtmid": 34186711000001102,
            "invalid": None,
            "nm": "Co-amilofruse 5mg/40mg tablets",
            "abbrevnm": None,
            "basiscd": "0002",
            "nmdt": "2004-05-04",
            "nmprev": "Co-amilofruse 5/40 tablets",
            "basis_prevcd": "0002",
            "nmchangecd": None,
            "combprodcd": None,
            "pres_statcd": "0001",
            "sug_f": 1,
            "glu_f": None,
            "pres_f": None,
            "cfc_f": None,
            "non_availcd": None,
            "non_availdt": None,
            "df_indcd": "1",
            "udfs": 1.0,
            "udfs_uomcd": "428673006",
            "unit_dose_uomcd": "428673006",
        },
    ),
    (
        "vpi",
        {"vpid": 318136009, "isid": 387475002},
        {
            "vpid": 318136009,
            "isid": 387475002,
            "basis_strntcd": "0001",
            "bs_subid": None,
            "strnt_nmrtr_val": 40.0,
            "strnt_nmrtr_uomcd": "258684004",
            "strnt_dnmtr_val": None,
            "strnt_dnmtr_uomcd": None,
        },
    ),
    ("ont", {"vpid": 318136009}, {"vpid": 318136009, "formcd": "0001"}),
    ("dform", {"vpid": 318136009}, {"vpid": 318136009, "formcd": "385055001"}),
    ("droute", {"vpid": 318136009}, {"vpid": 318136009, "routecd": "26643006"}),
    (
        "control_info",
        {"vpid": 318136009},
        {"vpid": 318136009, "catcd": "0000", "catdt": None, "cat_prevcd": None},
    ),
    (
        "vmpp",
        {"vppid": 8967511000001109},
        {
            "vppid": 8967511000001109,
            "invalid": None,
            "nm": "Co-amilofruse 5mg/40mg tablets 28 tablet combination pack",
            "abbrevnm": None,
            "vpid": 318136009,
            "qtyval": 28.0,
            "qty_uomcd": "428673006",
            "combpackcd": "0001",
        },
    ),
    (
        "dtinfo",
        {"vppid": 1245011000001108},
        {"vppid": 1245011000001108, "pay_catcd": "0003", "price": 529, "dt": "2019-03-01", "prevprice": 740},
    ),
    ("vmpp_ccontent", {"prntvppid": 8967511000001109}, {"prntvppid": 8967511000001109, "chldvppid": 1245011000001108}),
    (
        "amp",
        {"apid": 37706811000001108},
        {
            "apid": 37706811000001108,
            "invalid": None,
            "vpid": 318136009,
            "nm": "Co-amilofruse 5mg/40mg tablets",
            "abbrevnm": None,
            "desc": "Co-amilofruse 5mg/40mg tablets (CST Pharma Ltd)",
            "nmdt": None,
            "nm_prev": None,
            "suppcd": "24059811000001102",
            "lic_authcd": "0001",
            "lic_auth_prevcd": None,
            "lic_authchangecd": None,
            "lic_authchangedt": None,
            "combprodcd": None,
            "flavourcd": None,
            "ema": None,
            "parallel_import": 1,
            "avail_restrictcd": "0001",
        },
    ),
    (
        "ap_ing",
        {"apid": 37365811000001102, "isid": 228104004},
        {"apid": 37365811000001102, "isid": 228104004, "strnth": None, "uomcd": None},
    ),
    ("lic_route", {"apid": 37365811000001102}, {"apid": 37365811000001102, "routecd": "26643006"}),
    (
        "ap_info",
        {"apid": 37365811000001102},
        {"apid": 37365811000001102, "sz_weight": "8.5mm", "colourcd": "0031", "prod_order_no": "CAF540"},
    ),
    (
        "ampp",
        {"appid": 37365911000001107},
        {
            "appid": 37365911000001107,
            "invalid": None,
            "nm": "Co-amilofruse 5mg/40mg tablets (Mawdsley-Brooks & Company Ltd) 28 tablet",
            "abbrevnm": None,
            "vppid": 1245011000001108,
            "apid": 37365811000001102,
            "combpackcd": None,
            "legal_catcd": "0003",
            "subp": None,
            "disccd": "0001",
            "discdt": "2020-02-29",
        },
    ),
    (
        "pack_info",
        {"appid": 37365911000001107},
        {
            "appid": 37365911000001107,
            "reimb_statcd": "0001",
            "reimb_statdt": None,
            "reimb_statprevcd": None,
            "pack_order_no": "510",
        },
    ),
    (
        "prescrib_info",
        {"appid": 37365911000001107},
        {
            "appid": 37365911000001107,
            "sched_2": None,
            "acbs": 1,
            "padm": None,
            "fp10_mda": None,
            "sched_1": None,
            "hosp": 1,
            "nurse_f": None,
            "enurse_f": None,
            "dent_f": None,
        },
    ),
    (
        "price_info",
        {"appid": 37365911000001107},
        {
            "appid": 37365911000001107,
            "price": 3384,
            "pricedt": "2019-05-10",
            "price_prev": 2947,
            "price_basiscd": "0001",
        },
    ),
    (
        "reimb_info",
        {"appid": 37365911000001107},
        {
            "appid": 37365911000001107,
            "px_chrgs": 1,
            "disp_fees": 1,
            "bb": 1,
            "ltd_stab": None,
            "cal_pack": None,
            "spec_contcd": "0001",
            "dnd": "0001",
            "fp34d": None,
        },
    ),
    ("ampp_ccontent", {"prntappid": 8968011000001101}, {"prntappid": 8968011000001101, "chldappid": 37365911000001107}),
    (
        "ing",
        {"isid": 387516008},
        {
            "isid": 387516008,
            "isiddt": "2005-07-27",
            "isidprev": 3512011000001109,
            "invalid": None,
            "nm": "Amiloride hydrochloride",
        },
    ),
    (
        "lookup",
        {"type": "UNIT_OF_MEASURE", "cd": "282380000"},
        {
            "type": "UNIT_OF_MEASURE",
            "cd": "282380000",
            "cddt": "2007-10-01",
            "cdprev": "3314311000001103",
            "invalid": None,
            "desc": "%v/v",
        },
    ),
    (
        "gtin",
        {"gtin": "5012617019844"},
        {
            "amppid": 37365911000001107,
            "gtin": "5012617019844",
            "startdt": "2015-06-01",
            "enddt": "2019-03-12",
            "gtin14": "05012617019844",
        },
    ),
    (
        "bnf_vmp",
        {"vpid": 318136009},
        {"vpid": 318136009, "bnf": "02020400", "atc": "C03EB01", "ddd": 240.0, "ddd_uomcd": "258684004"},
    ),
    (
        "history",
        {"idprevious": 10406411000001101},
        {
            "type": "VMPS",
            "idcurrent": 318135008,
            "idprevious": 10406411000001101,
            "startdt": "2004-05-04",
            "enddt": "2009-03-31",
        },
    ),
    ("vtm_ing", {"isid": 387475002}, {"vtmid": 34186711000001102, "isid": 387475002}),
]

SPOT_CHECKS_2019: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "vmp",
        {"vpid": 36016311000001102},
        {
            "vpid": 36016311000001102,
            "vpiddt": "2018-10-29",
            "vpidprev": 347209005,
            "vtmid": 90356005,
            "invalid": None,
            "nm": "Pilocarpine hydrochloride 6% eye drops preservative free",
            "abbrevnm": None,
            "basiscd": "0003",
            "nmdt": None,
            "nmprev": None,
            "basis_prevcd": None,
            "nmchangecd": None,
            "combprodcd": None,
            "pres_statcd": "0001",
            "sug_f": None,
            "glu_f": None,
            "pres_f": 1,
            "cfc_f": None,
            "non_availcd": None,
            "non_availdt": None,
            "df_indcd": "2",
            "udfs": None,
            "udfs_uomcd": None,
            "unit_dose_uomcd": None,
        },
    ),
    (
        "lookup",
        {"type": "SUPPLIER", "cd": "3145201000001108"},
        {
            "type": "SUPPLIER",
            "cd": "3145201000001108",
            "cddt": None,
            "cdprev": None,
            "invalid": 1,
            "desc": "Boots Pharmaceuticals Ltd",
        },
    ),
    (
        "gtin",
        {"gtin": "05060064792018"},
        {
            "amppid": 21855511000001108,
            "gtin": "05060064792018",
            "startdt": "2019-03-07",
            "enddt": None,
            "gtin14": "05060064792018",
        },
    ),
    (
        "bnf_vmp",
        {"vpid": 3549611000001100},
        {"vpid": 3549611000001100, "bnf": "09140101", "atc": "n/a", "ddd": None, "ddd_uomcd": None},
    ),
]


def _typed(values: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k: (type(v).__name__, v) for k, v in values.items()}


def _check_spot(cat: Catalogue, table: str, key: dict[str, Any], expected: dict[str, Any]) -> None:
    where = " AND ".join(f"{col} = ?" for col in key)
    rows = cat.conn.execute(f"SELECT * FROM {table} WHERE {where}", tuple(key.values())).fetchall()
    assert len(rows) == 1, f"{table} {key}: {len(rows)} rows"
    row = dict(zip(rows[0].keys(), tuple(rows[0]), strict=True))
    assert list(row) == list(RECORD_TYPES_BY_TABLE[table].columns)
    assert _typed(row) == _typed(expected)


@pytest.mark.parametrize(("table", "key", "expected"), SPOT_CHECKS_2021, ids=[c[0] for c in SPOT_CHECKS_2021])
def test_fields_land_in_their_columns_2021(
    catalogue_2021: Catalogue, table: str, key: dict[str, Any], expected: dict[str, Any]
) -> None:
    _check_spot(catalogue_2021, table, key, expected)


@pytest.mark.parametrize(("table", "key", "expected"), SPOT_CHECKS_2019, ids=[c[0] for c in SPOT_CHECKS_2019])
def test_fields_land_in_their_columns_2019(
    catalogue_2019: Catalogue, table: str, key: dict[str, Any], expected: dict[str, Any]
) -> None:
    _check_spot(catalogue_2019, table, key, expected)


def test_spot_checks_cover_every_record_type() -> None:
    covered = {c[0] for c in SPOT_CHECKS_2021 + SPOT_CHECKS_2019}
    assert {rt.table for rt in RECORD_TYPES} - covered == {"bnf_amp"}  # no sample has one: see the edge cases


@pytest.mark.parametrize("rt", RECORD_TYPES, ids=lambda rt: rt.table)
def test_every_xml_record_is_stored_field_by_field(
    sample: BuiltReplica, sample_catalogue: Catalogue, rt: RecordType
) -> None:
    """Every record of every file: each field's text, converted by its kind, is in its column."""
    convert = {"ID": int, "INT": int, "REAL": float, "FLAG": lambda _: 1, "CODE": str, "TEXT": str, "DATE": str}
    stored = {tuple(r) for r in sample_catalogue.conn.execute(f"SELECT {', '.join(rt.columns)} FROM {rt.table}")}
    records = xml_records(sample, rt.table)
    for record in records[:300]:
        if rt.table == "gtin":
            values: list[Any] = [int(text_of(record.getparent(), "AMPPID") or "")]
            fields = rt.fields[1:]
        else:
            values = [record.getparent().tag] if rt.discriminator else []
            fields = rt.fields
        for f in fields:
            text = text_of(record, f.tag)
            values.append(None if text is None else convert[f.kind.name](text))
        if rt.table == "gtin":
            values.append(values[1].zfill(14))
        assert tuple(values) in stored, f"{rt.table}: {values}"


# ------------------------------------------------------------------------------------------ release info


def test_release_info_of_the_zip(catalogue_2019: Catalogue, replica_2019: BuiltReplica) -> None:
    info = catalogue_2019.release()
    assert info.name == "nhsbsa_dmd_4.0.1_20190401000001"
    assert info.release_date == "2019-04-01"
    assert info.version == "4.0.1"
    assert info.archive_sha256 == hashlib.sha256(replica_2019.main.read_bytes()).hexdigest()
    assert info.schema_version == SCHEMA_VERSION
    assert info.bonus_name == "nhsbsa_dmdbonus_12.0.0_20241202000001"
    assert info.bonus_sha256 == hashlib.sha256(SAMPLE_BONUS_ZIP.read_bytes()).hexdigest()
    assert datetime.fromisoformat(info.built_at).tzinfo is not None
    assert info == replica_2019.result.info


def test_release_info_without_bonus(tmp_path: Path, zip_2021: Path) -> None:
    target = tmp_path / "dmd.sqlite"
    build_replica(target, zip_2021, parallel=False)
    with Catalogue(target) as cat:
        info = cat.release()
        assert (info.name, info.release_date, info.bonus_name, info.bonus_sha256) == (
            "nhsbsa_dmd_4.0.1_20210826000001",
            "2021-08-26",
            None,
            None,
        )
        assert "bnf" not in cat.counts()
        assert count_rows(cat, "bnf_vmp") == 0


def test_release_date_of_a_folder_comes_from_the_file_names(tmp_path: Path) -> None:
    target = tmp_path / "dmd.sqlite"
    result = build_replica(target, SAMPLE_2021, parallel=False)
    assert (result.info.name, result.info.release_date, result.info.version) == (
        "release-2021-08-26",
        "2021-08-26",
        None,
    )
    assert len(result.info.archive_sha256) == 64


def test_user_version_is_the_schema_version(replica_2019: BuiltReplica) -> None:
    conn = sqlite3.connect(f"file:{replica_2019.path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    finally:
        conn.close()


def test_catalogue_opens_read_only(catalogue_2019: Catalogue) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        catalogue_2019.conn.execute("DELETE FROM vmp")
