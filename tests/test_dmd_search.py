"""Type-ahead search over the replica built from the 2019 sample and the 2024 supplementary release."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.errors import InvalidGtinError
from core.dmd.search import SearchHit
from core.dmd.search_index import document_counts
from tests.release_zips import SAMPLE_2021, build_main_zip

EVERYTHING = 1_000_000  # a limit above the number of documents: "matches everything" becomes visible


@pytest.fixture(scope="module")
def cat(catalogue_2019: Catalogue) -> Catalogue:
    return catalogue_2019


@pytest.fixture(scope="module")
def documents(cat: Catalogue) -> tuple[int, int]:
    """(visible, all) searchable documents."""
    return document_counts(cat.conn)


def kinds(hits: list[SearchHit]) -> list[str]:
    return [h.type for h in hits]


def tier(hit: SearchHit, query: str) -> int:
    """0 exact name, 1 name prefix, 2 word match."""
    name, key = hit.name.casefold(), query.casefold()
    return 0 if name == key else 1 if name.startswith(key) else 2


# ------------------------------------------------------------------------------------------ ranking


def test_vtm_exact_match_comes_first(cat: Catalogue) -> None:
    hits = cat.search("pilocarpine")
    assert (hits[0].type, hits[0].name, hits[0].id) == ("vtm", "Pilocarpine", 90356005)


def test_exact_then_prefix_then_word_matches(cat: Catalogue) -> None:
    hits = cat.search("pilocarpine", limit=EVERYTHING)
    tiers = [tier(h, "pilocarpine") for h in hits]
    assert tiers == sorted(tiers)
    assert {0, 1} <= set(tiers)
    hits = cat.search("nutrison", limit=EVERYTHING)
    tiers = [tier(h, "nutrison") for h in hits]
    assert tiers == sorted(tiers) and set(tiers) == {1, 2}
    assert "Generic Nutrison liquid" in [h.name for h in hits if tier(h, "nutrison") == 2]


def test_within_a_tier_vtm_before_vmp_before_amp_vmpp_ampp(cat: Catalogue) -> None:
    order = {"vtm": 0, "vmp": 1, "amp": 2, "vmpp": 3, "ampp": 4}
    for query in ("pilocarpine", "adenosine", "diclofenac", "coal tar", "solution", "liquid", "gel", "eye drops"):
        hits = cat.search(query, limit=EVERYTHING)
        assert hits, query
        keys = [(tier(h, query), order[h.type]) for h in hits]
        assert keys == sorted(keys), query
    assert kinds(cat.search("pilocarpine hydrochloride 6% eye drops", limit=3)) == ["vmp", "vmp", "amp"]


def test_shorter_names_first_within_a_kind(cat: Catalogue) -> None:
    vmpps = [h.name for h in cat.search("pilocarpine hydrochloride 6% eye drops", limit=EVERYTHING) if h.type == "vmpp"]
    assert vmpps[:2] == ["Pilocarpine hydrochloride 6% eye drops 1 ml", "Pilocarpine hydrochloride 6% eye drops 10 ml"]
    assert [len(n) for n in vmpps] == sorted(len(n) for n in vmpps)


def test_limit_is_respected_and_results_are_unique(cat: Catalogue) -> None:
    hits = cat.search("p", limit=7)
    assert len(hits) == 7
    many = cat.search("ac", limit=EVERYTHING)
    assert len(many) > 50
    assert len({(h.type, h.id) for h in many}) == len(many)
    assert cat.search("ac", limit=50) == many[:50]
    assert cat.search("pilocarpine", limit=0) == []


def test_kinds_filter(cat: Catalogue) -> None:
    hits = cat.search("pilocarpine", kinds=("amp", "ampp"), limit=EVERYTHING)
    assert hits and set(kinds(hits)) == {"amp", "ampp"}


# ------------------------------------------------------------------------------------------ what is searched


def test_case_insensitive(cat: Catalogue) -> None:
    expected = cat.search("pilocarpine", limit=EVERYTHING)
    assert len(expected) > 10
    for query in ("PILOCARPINE", "Pilocarpine", "pIlOcArPiNe", "  pilocarpine  "):
        assert cat.search(query, limit=EVERYTHING) == expected


def test_multi_word_prefixes(cat: Catalogue) -> None:
    hits = cat.search("pilo drops", limit=EVERYTHING)
    assert hits
    assert all("pilo" in h.name.casefold() and "drops" in h.name.casefold() for h in hits)
    assert "Pilocarpine hydrochloride 6% eye drops" in [h.name for h in hits if h.type == "vmp"]
    assert cat.search("drops pilo", limit=EVERYTHING) == hits  # word order does not matter
    assert cat.search("pilo tablets") == []
    # The longest word leads the word search; here it is the names' first word, which is indexed marked only.
    assert "Pilocarpine hydrochloride 6% eye drops" in [h.name for h in cat.search("eye pilocarpine", limit=50)]


def test_previous_name_finds_the_current_vmp(cat: Catalogue) -> None:
    hits = cat.search("Diclofenac 2% gel")
    assert (hits[0].type, hits[0].name, hits[0].id) == ("vmp", "Diclofenac 2.32% gel", 22480211000001104)
    assert cat.search("Diclofenac 2% gel", kinds=("vmp",), limit=EVERYTHING) == hits[:1]


def test_previous_amp_name_finds_the_amp(cat: Catalogue) -> None:
    hits = cat.search("nutrison standard", limit=EVERYTHING)
    assert ("amp", "Nutrison liquid (Nutricia Ltd)") in [(h.type, h.name) for h in hits]


def test_amp_description_supplier_name(cat: Catalogue) -> None:
    hits = cat.search("special order", limit=EVERYTHING)
    assert {h.type for h in hits} == {"amp", "ampp"}
    amps = [h.name for h in hits if h.type == "amp"]
    assert len(amps) == 4 and all(n.endswith("(Special Order)") for n in amps)
    wockhardt = [(h.type, h.name) for h in cat.search("Wockhardt", limit=EVERYTHING)]
    assert wockhardt[0] == ("amp", "Adenosine 6mg/2ml solution for injection vials (Wockhardt UK Ltd)")
    assert {t for t, _ in wockhardt[1:]} == {"ampp"} and all("(Wockhardt UK Ltd)" in n for _, n in wockhardt)


@pytest.fixture(scope="module")
def abbreviated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """The 2021 sample with an abbreviated name on one VMP (the 2019 sample's only one is no use for this)."""
    vmp = next(SAMPLE_2021.glob("f_vmp2_*.xml")).read_text()
    marker = "<NM>Co-amilofruse 5mg/40mg tablets</NM>"
    assert marker in vmp
    vmp = vmp.replace(marker, marker + "<ABBREVNM>CoAmilofr 5/40 Tab</ABBREVNM>")
    out = tmp_path_factory.mktemp("abbrev")
    target = out / "dmd.sqlite"
    build_replica(target, build_main_zip(SAMPLE_2021, out, overrides={"f_vmp2_": vmp.encode()}), parallel=False)
    with Catalogue(target) as cat:
        yield cat


def test_abbreviation_finds_the_product(abbreviated: Catalogue) -> None:
    hits = abbreviated.search("coamilofr")
    assert [(h.type, h.id, h.name) for h in hits] == [("vmp", 318136009, "Co-amilofruse 5mg/40mg tablets")]
    assert abbreviated.search("coamilofr tab") == hits


@pytest.fixture(scope="module")
def bracketed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """The 2021 sample with VMP names that start with a bracket and with a quote."""
    vmp = next(SAMPLE_2021.glob("f_vmp2_*.xml")).read_text()
    for old, new in (
        ("<NM>Co-amilofruse 5mg/40mg tablets</NM>", "<NM>(Zebra) Co-amilofruse 5mg/40mg tablets</NM>"),
        ("<NM>Co-amilofruse 2.5mg/20mg tablets</NM>", "<NM> &quot;Yak-wool&quot; Co-amilofruse 2.5mg/20mg</NM>"),
    ):
        assert old in vmp
        vmp = vmp.replace(old, new)
    out = tmp_path_factory.mktemp("bracketed")
    target = out / "dmd.sqlite"
    build_replica(target, build_main_zip(SAMPLE_2021, out, overrides={"f_vmp2_": vmp.encode()}), parallel=False)
    with Catalogue(target) as cat:
        yield cat


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("zebra", "(Zebra) Co-amilofruse 5mg/40mg tablets"),
        ("yak", ' "Yak-wool" Co-amilofruse 2.5mg/20mg'),
        ("yak wool", ' "Yak-wool" Co-amilofruse 2.5mg/20mg'),
    ],
)
def test_a_name_starting_with_brackets_or_quotes_starts_with_its_first_word(
    bracketed: Catalogue, query: str, name: str
) -> None:
    hits = [h.name for h in bracketed.search(query, limit=EVERYTHING)]
    assert hits[0] == name
    # Only the name-start tier runs for a one-letter query: it finds these through their marked first word.
    assert name in [h.name for h in bracketed.search(query[:1], limit=EVERYTHING)]


def test_later_words_of_a_bracketed_name_are_still_words(bracketed: Catalogue) -> None:
    names = [h.name for h in bracketed.search("amilofruse", limit=EVERYTHING)]
    assert "(Zebra) Co-amilofruse 5mg/40mg tablets" in names
    assert ' "Yak-wool" Co-amilofruse 2.5mg/20mg' in names
    # ...but not name starts: nothing is marked beyond the first word.
    assert "(Zebra) Co-amilofruse 5mg/40mg tablets" not in [h.name for h in bracketed.search("c", limit=EVERYTHING)]


# ------------------------------------------------------------------------------------------ hidden items


@pytest.mark.parametrize(
    ("query", "kind", "product_id", "status"),
    [
        ("Triamcinolone", "vtm", 6028009, "invalid"),
        ("Diclofenac 2.32% gel (DE Pharmaceuticals)", "amp", 30926911000001106, "invalid"),
        ("Nutrison liquid (Waymade", "amp", 10837011000001103, "unavailable"),
        ("Nutrison liquid (Waymade Healthcare Plc) 1000 ml", "ampp", 10837111000001102, "discontinued"),
        ("Diclofenac 2.32% gel (Colorama Pharmaceuticals Ltd) 30 gram", "ampp", 29915311000001106, "invalid"),
    ],
)
def test_hidden_items_only_on_request(cat: Catalogue, query: str, kind: str, product_id: int, status: str) -> None:
    shown = cat.search(query, limit=EVERYTHING)
    assert product_id not in [h.id for h in shown]
    assert all(h.status is None for h in shown)
    hidden = cat.search(query, limit=EVERYTHING, include_hidden=True)
    [hit] = [h for h in hidden if h.id == product_id]
    assert (hit.type, hit.status) == (kind, status)
    assert set(shown) < set(hidden)


def test_discontinued_pack_of_the_2021_sample(catalogue_2021: Catalogue) -> None:
    query = "Co-amilofruse 5mg/40mg tablets (Mawdsley-Brooks & Company Ltd) 28 tablet"
    assert 37365911000001107 not in [h.id for h in catalogue_2021.search(query)]
    hits = catalogue_2021.search(query, include_hidden=True)
    assert [(h.id, h.status) for h in hits if h.id == 37365911000001107] == [(37365911000001107, "discontinued")]


def test_valid_vtm_of_the_same_name_stays_visible(cat: Catalogue) -> None:
    names = [h.name for h in cat.search("Triamcinolone", limit=EVERYTHING)]
    assert "Triamcinolone acetonide" in names and "Triamcinolone" not in names


# ------------------------------------------------------------------------------------------ hostile input

HOSTILE = [
    '"',
    "'",
    "*",
    "-",
    "NEAR(",
    "a OR b",
    "a AND b",
    "NOT a",
    ")",
    "(",
    "^",
    ":",
    "%",
    "_",
    "\\",
    "'; DROP TABLE vmp; --",
    '"; DROP TABLE search_fts; --',
    "text:pilo",
    "pilo*",
    '"pilo"',
    "{pilo}",
    "pilo NEAR/2 drops",
    "\x00",
    "ö",
    "Öl",
    "💊",
    "💊 pilocarpine",
    "שלום",
    "مرحبا",
    "\u202epilocarpine",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "pilo\udcff drops",
    "x" * 10_000,
    "pilo " * 2_000,
    "%" * 10_000,
    "a" * 200 + "*",
]


@pytest.mark.parametrize("query", HOSTILE, ids=[repr(q[:20]) for q in HOSTILE])
def test_hostile_input_never_raises_nor_matches_everything(
    cat: Catalogue, documents: tuple[int, int], query: str
) -> None:
    visible, everything = documents
    hits = cat.search(query, limit=EVERYTHING)
    assert isinstance(hits, list)
    assert len(hits) < visible / 2
    assert len(cat.search(query, limit=EVERYTHING, include_hidden=True)) < everything / 2
    assert cat.conn.execute("SELECT count(*) FROM vmp").fetchone()[0] == 7


@pytest.mark.parametrize("query", ["%", "_", "*", "-", '"', "'"])
def test_wildcard_characters_match_nothing(cat: Catalogue, query: str) -> None:
    assert cat.search(query, limit=EVERYTHING) == []


def test_operators_are_words_not_syntax(cat: Catalogue) -> None:
    # As FTS5 syntax "pilocarpine OR nutrison" would match both; as words, no name has all three.
    assert cat.search("pilocarpine OR nutrison") == []
    assert cat.search("pilocarpine NOT drops") == []


@pytest.mark.parametrize("query", ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u3000"])
def test_empty_and_whitespace_queries_return_nothing(cat: Catalogue, query: str) -> None:
    assert cat.search(query) == []
    assert cat.search(query, include_hidden=True, limit=EVERYTHING) == []


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_any_text_is_safe(cat: Catalogue, documents: tuple[int, int], text: str) -> None:
    hits = cat.search(text, limit=EVERYTHING)
    assert isinstance(hits, list)
    assert all(isinstance(h, SearchHit) for h in hits)
    assert len(hits) < documents[0] or not text.strip()
    assert len(hits) <= documents[0]


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.characters(categories=("P", "S", "Z", "Cc", "Cf", "Co")), max_size=50))
def test_punctuation_and_symbols_match_only_names_starting_with_them(cat: Catalogue, text: str) -> None:
    hits = cat.search(text, limit=EVERYTHING)
    key = " ".join(text.split()).casefold()
    assert all(h.name.casefold().startswith(key) for h in hits)


# ------------------------------------------------------------------------------------------ barcodes


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("5060064792019", "check digit"),  # 5060064792018 with a wrong check digit
        ("05060064792011", "check digit"),
        ("506006479201X", "only digits"),
        ("ABCDEFGHIJKLM", "only digits"),
        ("506006479201", "12 digits"),
        ("123", "3 digits"),
        ("506006479201812", "15 digits"),
        ("", "0 digits|only digits"),
        ("5060 0647 92018", "only digits"),
        ("５０６００６４７９２０１８", "only digits"),  # full-width digits
    ],
)
def test_invalid_gtin_is_refused_clearly(cat: Catalogue, code: str, says: str) -> None:
    with pytest.raises(InvalidGtinError, match=says) as caught:
        cat.find_gtin(code)
    assert "GTIN" in str(caught.value) or "barcode" in str(caught.value)


def test_valid_gtin_without_a_pack_finds_nothing(cat: Catalogue) -> None:
    assert cat.find_gtin("4006381333931") == []


def test_gtin_with_surrounding_whitespace_is_accepted(cat: Catalogue) -> None:
    [match] = cat.find_gtin(" 8712400360258\n")
    assert match.ampp_id == 1714711000001106


def test_search_result_as_dict(cat: Catalogue) -> None:
    hit = cat.search("pilocarpine")[0]
    assert hit.as_dict() == {"id": "90356005", "type": "vtm", "name": "Pilocarpine", "status": None}


def test_search_after_reopen_is_the_same(tmp_path: Path, cat: Catalogue) -> None:
    with Catalogue(cat.path) as again:
        assert again.search("pilo drops") == cat.search("pilo drops")


def test_search_by_controlled_drug_schedule(demo_catalogue: Catalogue) -> None:
    hits = demo_catalogue.search("morphine", limit=30, cd_schedules=frozenset({2}))
    assert hits and all(hit.type != "vtm" for hit in hits)
    vmps = [hit for hit in hits if hit.type == "vmp"]
    assert vmps and all(demo_catalogue.cd_schedule_of_vmp(hit.id) == 2 for hit in vmps)
    assert demo_catalogue.search("paracetamol", cd_schedules=frozenset({2, 3, 4, 5})) == []
