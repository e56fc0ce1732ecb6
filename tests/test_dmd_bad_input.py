"""Bad input to the replica builder: each attempt fails with one clear DmdError naming the file and the problem,
the replica already in use stays byte-identical, and nothing is left behind in its folder."""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.dmd import build as build_module
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.errors import DmdError, ReleaseError, ReplicaMissingError, ValidationError
from core.dmd.layout import copy_replica
from core.dmd.source import locate_release
from tests.conftest import ExistingReplica
from tests.release_zips import SAMPLE_2021, SAMPLE_BONUS_ZIP, build_main_zip

MAIN_NAME = "nhsbsa_dmd_4.0.1_20210826000001.zip"
VMP_FILE = "f_vmp2_3260821.xml"


# ------------------------------------------------------------------------------------------ zip surgery


def _data_range(raw: bytes, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Where a member's compressed bytes are in the archive."""
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return start, start + info.compress_size


def _member_info(path: Path, member: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(path) as zf:
        return zf.getinfo(member)


def rezip(source: Path, out: Path, *, stored: tuple[str, ...] = ()) -> Path:
    """A copy of a release zip, with the members named in ``stored`` not compressed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            kind = zipfile.ZIP_STORED if info.filename in stored else zipfile.ZIP_DEFLATED
            dst.writestr(info.filename, src.read(info), compress_type=kind)
    return out


def set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory declares for ``member``."""
    out = bytearray(data)
    encoded = member.encode()
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack("<H", out[pos + 28 : pos + 30])[0]
        if out[pos + 46 : pos + 46 + name_len] == encoded:
            out[pos + 24 : pos + 28] = struct.pack("<I", size)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} not in the central directory")


# ------------------------------------------------------------------------------------------ bad releases


@dataclass
class Bad:
    """One bad input: how to make it, and what the error must say."""

    make: Callable[[Path, Path], Path]  # (work folder, good 2021 zip) -> path given to build_replica
    error: type[DmdError]
    says: tuple[str, ...]  # regexes the message must match (the file, the problem)
    kwargs: dict[str, Any] = field(default_factory=dict)
    bonus: Callable[[Path, Path], Path] | None = None


def _truncated(work: Path, good: Path) -> Path:
    out = work / MAIN_NAME
    data = good.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def _crc_error(work: Path, good: Path) -> Path:
    """f_vmp2 stored uncompressed with one letter of a name changed: still well-formed XML, only the CRC fails."""
    out = rezip(good, work / MAIN_NAME, stored=(VMP_FILE,))
    raw = bytearray(out.read_bytes())
    start, end = _data_range(bytes(raw), _member_info(out, VMP_FILE))
    pos = raw.find(b"Co-amilofruse 2.5mg", start, end)
    assert pos != -1
    raw[pos] = ord("X")
    out.write_bytes(bytes(raw))
    return out


def _inflate_error(work: Path, good: Path) -> Path:
    """The first deflate block header of f_vmp2 made invalid (block type 11)."""
    raw = bytearray(good.read_bytes())
    start, _ = _data_range(bytes(raw), _member_info(good, VMP_FILE))
    raw[start] = 0xFF
    out = work / MAIN_NAME
    out.write_bytes(bytes(raw))
    return out


def _flipped_bytes(work: Path, good: Path) -> Path:
    """Eight bytes flipped in the middle of f_vmp2's compressed data."""
    raw = bytearray(good.read_bytes())
    start, end = _data_range(bytes(raw), _member_info(good, VMP_FILE))
    middle = (start + end) // 2
    for i in range(middle, middle + 8):
        raw[i] ^= 0xFF
    out = work / MAIN_NAME
    out.write_bytes(bytes(raw))
    return out


def _with(overrides: dict[str, bytes] | None = None, omit: tuple[str, ...] = ()) -> Callable[[Path, Path], Path]:
    def make(work: Path, good: Path) -> Path:
        return build_main_zip(SAMPLE_2021, work, overrides=overrides, omit=omit)

    return make


def _sample_text(prefix: str) -> str:
    return next(SAMPLE_2021.glob(f"{prefix}*.xml")).read_text()


def _unclosed_tag() -> bytes:
    text = _sample_text("f_amp2_").replace("<NM>Co-amilofruse 5mg/40mg tablets</NM>", "<NM>Co-amilofruse", 1)
    return text.encode()


def _inconsistent_packs() -> dict[str, bytes]:
    """A VMPP of VMP 318135008, and the AMPP of an AMP of VMP 318136009 pointing at it."""
    vmpp = _sample_text("f_vmpp2_").replace(
        "</VMPPS>",
        "<VMPP><VPPID>9990211000001100</VPPID><NM>Co-amilofruse 2.5mg/20mg tablets 28 tablet</NM>"
        "<VPID>318135008</VPID><QTYVAL>28</QTYVAL><QTY_UOMCD>428673006</QTY_UOMCD></VMPP></VMPPS>",
    )
    ampp = _sample_text("f_ampp2_").replace("<VPPID>1245011000001108</VPPID>", "<VPPID>9990211000001100</VPPID>", 1)
    return {"f_vmpp2_": vmpp.encode(), "f_ampp2_": ampp.encode()}


def _dangling_amp() -> dict[str, bytes]:
    ampp = _sample_text("f_ampp2_").replace("<APID>37365811000001102</APID>", "<APID>1234511000001100</APID>", 1)
    return {"f_ampp2_": ampp.encode()}


def _duplicate_vmp() -> dict[str, bytes]:
    text = _sample_text("f_vmp2_")
    first = text[text.index("<VMP>") : text.index("</VMP>") + len("</VMP>")]
    return {"f_vmp2_": text.replace("</VMPS>", first + "</VMPS>").encode()}


def _readme_zip(work: Path, good: Path) -> Path:
    out = work / "release.zip"
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("README.txt", "Not a dm+d release.")
        zf.writestr("notes/f_something.xml", "<NOTES/>")
    return out


def _random_file(work: Path, good: Path) -> Path:
    out = work / "release.zip"
    out.write_bytes(os.urandom(4096))
    return out


def _empty_file(work: Path, good: Path) -> Path:
    out = work / "release.zip"
    out.write_bytes(b"")
    return out


def _empty_folder(work: Path, good: Path) -> Path:
    out = work / "release"
    out.mkdir()
    (out / "README.txt").write_text("nothing here")
    return out


def _declared_huge(work: Path, good: Path) -> Path:
    out = work / MAIN_NAME
    out.write_bytes(set_declared_size(good.read_bytes(), VMP_FILE, 0xFFFF_FFF0))
    return out


def _nested_declared_huge(work: Path, good: Path) -> Path:
    """The GTIN file inside the nested GTIN zip declares 4 GB."""
    out = work / MAIN_NAME
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("-GTIN.zip"):
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    gtin = next(n for n in inner.namelist() if n.startswith("f_gtin2_"))
                data = set_declared_size(data, gtin, 0xFFFF_FFF0)
            dst.writestr(info.filename, data)
    return out


def _big_nested_member(work: Path, good: Path) -> Path:
    """A 64 MB 'nested zip' (zeros, a few kB compressed) before the release files: refused unread."""
    out = work / MAIN_NAME
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("week352021-r2_3-GTIN.zip", bytes(64 * 1024**2))
        for info in src.infolist():
            if not info.filename.endswith(".zip"):
                dst.writestr(info.filename, src.read(info))
    return out


def _wrong_root(work: Path, good: Path) -> Path:
    return build_main_zip(SAMPLE_2021, work, overrides={"f_vmp2_": _sample_text("f_amp2_").encode()})


def _missing(work: Path, good: Path) -> Path:
    return work / "does-not-exist" / MAIN_NAME


def _bonus_as_main(work: Path, good: Path) -> Path:
    return SAMPLE_BONUS_ZIP


def _main_as_bonus(work: Path, good: Path) -> Path:
    return good


BAD_INPUTS: dict[str, Bad] = {
    "truncated-zip": Bad(_truncated, ReleaseError, (MAIN_NAME, r"not a readable zip")),
    "corrupt-member-crc": Bad(_crc_error, ReleaseError, (VMP_FILE, r"damaged", r"CRC")),
    "corrupt-member-inflate": Bad(_inflate_error, ReleaseError, (VMP_FILE, r"damaged", r"decompress")),
    "corrupt-member-flipped": Bad(_flipped_bytes, ReleaseError, (VMP_FILE, r"damaged|malformed")),
    "malformed-xml": Bad(_with({"f_amp2_": _unclosed_tag()}), ReleaseError, ("f_amp2_3260821.xml", "malformed XML")),
    "wrong-root-element": Bad(_wrong_root, ReleaseError, (VMP_FILE, r"not a dm\+d vmp file", "ACTUAL_MEDICINAL")),
    "missing-file": Bad(_with(omit=("f_amp2_",)), ReleaseError, (MAIN_NAME, "incomplete", r"f_amp2_")),
    "zip-bomb-limit": Bad(
        _with(), ReleaseError, (MAIN_NAME, "zip bomb", r"1,000 bytes"), kwargs={"max_uncompressed": 1000}
    ),
    "zip-bomb-declared": Bad(_declared_huge, ReleaseError, (MAIN_NAME, "zip bomb", r"4,096 MB")),
    "zip-bomb-nested": Bad(_nested_declared_huge, ReleaseError, (MAIN_NAME, "zip bomb")),
    "zip-bomb-big-nested-zip": Bad(
        _big_nested_member, ReleaseError, (MAIN_NAME, "zip bomb", "64 MB"), kwargs={"max_uncompressed": 16 * 1024**2}
    ),
    "zip-with-readme": Bad(_readme_zip, ReleaseError, ("release.zip", r"not a dm\+d release")),
    "random-bytes": Bad(_random_file, ReleaseError, ("release.zip", "not a readable zip")),
    "empty-file": Bad(_empty_file, ReleaseError, ("release.zip", "not a readable zip")),
    "folder-without-release": Bad(_empty_folder, ReleaseError, ("release", r"not a dm\+d release")),
    "bonus-as-main": Bad(
        _bonus_as_main, ReleaseError, ("nhsbsa_dmdbonus_12.0.0_20241202000001.zip", r"supplementary \(bonus\)")
    ),
    "main-as-bonus": Bad(
        _with(), ReleaseError, (MAIN_NAME, r"main dm\+d release, not a supplementary"), bonus=_main_as_bonus
    ),
    "inconsistent-packs": Bad(
        _with(_inconsistent_packs()),
        ValidationError,
        (MAIN_NAME, "inconsistent", "AMP and VMPP belong to different VMPs"),
    ),
    "ampp-without-amp": Bad(
        _with(_dangling_amp()), ValidationError, (MAIN_NAME, "inconsistent", "AMPPs whose AMP is missing")
    ),
    "duplicate-id": Bad(
        _with(_duplicate_vmp()), ReleaseError, (MAIN_NAME, "two records with the same id", r"vmp\.vpid")
    ),
    "nonexistent-path": Bad(_missing, ReleaseError, ("does-not-exist", "no such file or folder")),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_fails_clearly_and_keeps_the_previous_replica(
    case: str, tmp_path: Path, zip_2021: Path, existing_replica: ExistingReplica
) -> None:
    bad = BAD_INPUTS[case]
    work = tmp_path / "work"
    work.mkdir()
    main = bad.make(work, zip_2021)
    bonus = bad.bonus(work, zip_2021) if bad.bonus else None
    with pytest.raises(bad.error) as caught:
        build_replica(existing_replica.path, main, bonus, parallel=False, **bad.kwargs)
    message = str(caught.value)
    for pattern in bad.says:
        assert re.search(pattern, message), f"{message!r} does not say {pattern!r}"
    assert "Traceback" not in message and "\n" not in message
    existing_replica.assert_untouched()


def test_the_faults_are_what_breaks_those_releases(tmp_path: Path, zip_2021: Path) -> None:
    """Controls: a release rezipped with f_vmp2 stored, and the generated zips without a fault, build fine."""
    stored = rezip(zip_2021, tmp_path / "stored" / MAIN_NAME, stored=(VMP_FILE,))
    assert build_replica(tmp_path / "a.sqlite", stored, parallel=False).counts["vmp"] == 2
    padded = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_ampp2_": _padded_ampp("none")})
    assert build_replica(tmp_path / "b.sqlite", padded, parallel=True).counts["ampp"] == 2


def test_first_import_failing_leaves_no_replica_at_all(tmp_path: Path) -> None:
    target = tmp_path / "data" / "dmd.sqlite"
    bad = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_amp2_": _unclosed_tag()})
    with pytest.raises(ReleaseError):
        build_replica(target, bad, parallel=False)
    assert list(target.parent.iterdir()) == []
    with pytest.raises(ReplicaMissingError, match="no medicines catalogue"):
        Catalogue(target)


def test_zip_bomb_is_refused_before_anything_is_read(tmp_path: Path, zip_2021: Path) -> None:
    bomb = _declared_huge(tmp_path, zip_2021)
    with pytest.raises(ReleaseError, match="zip bomb"):
        locate_release(bomb)
    assert locate_release(zip_2021).has("vmp")


# ------------------------------------------------------------------------------------------ two processes


def _padded_ampp(fault: str) -> bytes:
    """The 2021 AMPP file made the biggest file of the release (so the worker process parses it), with a fault."""
    text = _sample_text("f_ampp2_")
    padding = "<!-- " + "padding " * 150_000 + "-->"
    text = text.replace("<AMPPS>", padding + "<AMPPS>", 1)
    if fault == "unclosed":
        text = text.replace("</REIMBURSEMENT_INFO>", "", 1)
    return text.encode()


def _assert_parsed_by_worker(main: Path) -> None:
    src = locate_release(main)
    files = [(False, key) for key in ("vtm", "vmp", "vmpp", "amp", "ampp", "ingredient", "lookup", "gtin")]
    assert all(src.has(key) for _, key in files)
    _, theirs = build_module._split(files)
    assert (False, "ampp") in theirs


def test_error_in_the_worker_process_is_as_clear_as_in_this_one(
    tmp_path: Path, existing_replica: ExistingReplica
) -> None:
    bad = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_ampp2_": _padded_ampp("unclosed")})
    _assert_parsed_by_worker(bad)
    messages = []
    for parallel in (False, True):
        with pytest.raises(ReleaseError) as caught:
            build_replica(existing_replica.path, bad, parallel=parallel)
        messages.append(str(caught.value))
        existing_replica.assert_untouched()
    assert messages[0] == messages[1]
    assert re.search(r"f_ampp2_3260821\.xml: malformed XML", messages[1])
    assert multiprocessing.active_children() == []


def test_worker_damaged_member_error(tmp_path: Path, existing_replica: ExistingReplica) -> None:
    (tmp_path / "good").mkdir()
    good = build_main_zip(SAMPLE_2021, tmp_path / "good", overrides={"f_ampp2_": _padded_ampp("none")})
    _assert_parsed_by_worker(good)
    bad = rezip(good, tmp_path / "bad" / MAIN_NAME, stored=("f_ampp2_3260821.xml",))
    raw = bytearray(bad.read_bytes())
    start, end = _data_range(bytes(raw), _member_info(bad, "f_ampp2_3260821.xml"))
    pos = raw.find(b"padding", start, end)
    raw[pos] = ord("P")
    bad.write_bytes(bytes(raw))
    with pytest.raises(ReleaseError, match=r"f_ampp2_3260821\.xml: the file is damaged .*CRC"):
        build_replica(existing_replica.path, bad, parallel=True)
    existing_replica.assert_untouched()
    assert multiprocessing.active_children() == []


def test_error_in_this_process_while_the_worker_runs(tmp_path: Path, existing_replica: ExistingReplica) -> None:
    vtm = _sample_text("f_vtm2_").replace("</VTM>", "", 1).encode()
    bad = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_vtm2_": vtm, "f_ampp2_": _padded_ampp("none")})
    _assert_parsed_by_worker(bad)
    with pytest.raises(ReleaseError, match=r"f_vtm2_3260821\.xml: malformed XML"):
        build_replica(existing_replica.path, bad, parallel=True)
    existing_replica.assert_untouched()
    assert multiprocessing.active_children() == []


# ------------------------------------------------------------------------------------------ hostile XML


def _vtm_with_doctype(entities: str, first_name: str, second_name: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE VIRTUAL_THERAPEUTIC_MOIETIES [{entities}]><VIRTUAL_THERAPEUTIC_MOIETIES>'
        f"<VTM><VTMID>34186711000001102</VTMID><NM>{first_name}</NM></VTM>"
        f"<VTM><VTMID>354303007</VTMID><NM>{second_name}</NM></VTM>"
        "</VIRTUAL_THERAPEUTIC_MOIETIES>"
    ).encode()


def test_entity_expansion_bomb_is_refused(tmp_path: Path, existing_replica: ExistingReplica) -> None:
    """'Billion laughs': ten to the eighth 'lol's must be refused, not expanded."""
    laughs = "".join(f'<!ENTITY l{i + 1} "{f"&l{i};" * 10}">' for i in range(8))
    vtm = _vtm_with_doctype('<!ENTITY l0 "lol">' + laughs, "Co-amilofruse &l8;", "Other")
    release = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_vtm2_": vtm})
    with pytest.raises(ReleaseError, match=r"f_vtm2_3260821\.xml: malformed XML .*amplification"):
        build_replica(existing_replica.path, release, parallel=False)
    existing_replica.assert_untouched()


def test_external_entity_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    vtm = _vtm_with_doctype(f'<!ENTITY xxe SYSTEM "file://{secret}">', "Co-amilofruse", "&xxe;")
    release = build_main_zip(SAMPLE_2021, tmp_path, overrides={"f_vtm2_": vtm})
    target = tmp_path / "new" / "dmd.sqlite"
    build_replica(target, release, parallel=False)
    assert b"TOP-SECRET" not in target.read_bytes()
    with Catalogue(target) as cat:
        assert [tuple(r) for r in cat.conn.execute("SELECT vtmid, nm FROM vtm ORDER BY vtmid")] == [
            (354303007, None),
            (34186711000001102, "Co-amilofruse"),
        ]


# ------------------------------------------------------------------------------------------ the replica file


def test_damaged_replica_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "dmd.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DmdError, match="damaged"):
        Catalogue(path)


def test_replica_of_another_schema_version_is_refused(tmp_path: Path, existing_replica: ExistingReplica) -> None:
    import sqlite3

    copy = tmp_path / "old.sqlite"
    copy_replica(existing_replica.path, copy)
    conn = sqlite3.connect(copy)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(DmdError, match="another version"):
        Catalogue(copy)
