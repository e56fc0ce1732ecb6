"""The replica's two files (core/dmd/layout.py): the main file names its packs file, and they are replaced together."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from core.dmd import build as build_module
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.errors import DmdError
from core.dmd.layout import PACKS_SCHEMA, copy_replica, named_files, packs_files
from core.dmd.replica import replica_is_current
from tests.conftest import ExistingReplica


def _named(target: Path) -> dict[str, Path]:
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        return named_files(conn, target)
    finally:
        conn.close()


def test_the_main_file_names_its_packs_file_and_the_packs_are_only_there(existing_replica: ExistingReplica) -> None:
    target = existing_replica.path
    [packs] = packs_files(target)
    assert _named(target) == {PACKS_SCHEMA: packs}
    with sqlite3.connect(target) as main_only:
        tables = {name for (name,) in main_only.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "ampp" not in tables and "price_info" not in tables and "pack_fts" not in tables
    assert {"amp", "vmpp", "gtin", "search_fts", "search_doc"} <= tables
    with Catalogue(target) as cat:  # one connection sees both files
        pack = cat.conn.execute("SELECT appid, nm FROM ampp LIMIT 1").fetchone()
        assert any(hit.id == pack["appid"] for hit in cat.search(pack["nm"], include_hidden=True))


def test_a_new_build_replaces_both_files_and_removes_the_old_packs_file(
    existing_replica: ExistingReplica, zip_2021: Path
) -> None:
    target = existing_replica.path
    [old_packs] = packs_files(target)
    with Catalogue(target) as reader:  # a reader of the old pair keeps its files while the new one goes in
        [pack_name] = reader.conn.execute("SELECT nm FROM ampp LIMIT 1").fetchone()
        build_replica(target, zip_2021, parallel=False)
        assert any(hit.type == "ampp" for hit in reader.search(pack_name, include_hidden=True))
    [new_packs] = packs_files(target)
    assert new_packs != old_packs and not old_packs.exists()
    assert _named(target) == {PACKS_SCHEMA: new_packs}
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, new_packs.name])


def test_a_packs_file_a_former_build_could_not_remove_goes_at_the_next_build(
    existing_replica: ExistingReplica, zip_2021: Path
) -> None:
    target = existing_replica.path
    stray = target.with_name("dmd-packs-0badf00d.sqlite")  # as left when it was still open on Windows
    stray.write_bytes(b"old packs")
    build_replica(target, zip_2021, parallel=False)
    assert not stray.exists()
    assert len(packs_files(target)) == 1


def test_a_failed_swap_leaves_the_previous_pair_and_nothing_else(
    existing_replica: ExistingReplica, zip_2021: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == existing_replica.path:
            raise PermissionError("the file is in use")
        real_replace(src, dst)

    monkeypatch.setattr(build_module.os, "replace", replace)
    with pytest.raises(PermissionError):
        build_replica(existing_replica.path, zip_2021, parallel=False)
    existing_replica.assert_untouched()


def test_a_missing_packs_file_is_a_clear_error_and_not_current(existing_replica: ExistingReplica) -> None:
    target = existing_replica.path
    [packs] = packs_files(target)
    packs.unlink()
    assert not replica_is_current(target)  # so the app rebuilds it on start
    with pytest.raises(DmdError, match=r"dmd-packs-.*\.sqlite is missing; import the release again"):
        Catalogue(target)


def test_the_packs_file_is_only_looked_for_beside_the_main_file(
    existing_replica: ExistingReplica, tmp_path: Path
) -> None:
    copy = tmp_path / "elsewhere" / "dmd.sqlite"
    copy.parent.mkdir()
    copy_replica(existing_replica.path, copy)
    [packs] = packs_files(copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE replica_file SET file = ?", (f"../../{packs.name}",))
    assert _named(copy) == {PACKS_SCHEMA: packs}
    with Catalogue(copy) as cat:
        assert cat.counts()["ampp"] > 0


@pytest.mark.parametrize("folder", ["data #1", "what?x=1", "100% sure", "spaced out"])
def test_a_replica_in_a_folder_with_uri_characters_in_its_name_builds_and_opens(
    tmp_path: Path, zip_2021: Path, folder: str
) -> None:
    # Its files are opened through SQLite URIs: a '#', '?' or '%' in a path must not cut or change it.
    target = tmp_path / folder / "dmd.sqlite"
    result = build_replica(target, zip_2021)
    assert replica_is_current(target)
    with Catalogue(target) as cat:
        assert cat.counts()["ampp"] == result.counts["ampp"] > 0
        assert cat.search("co-amilofruse", kinds=("ampp",))


def test_a_replica_given_by_a_relative_path_builds_and_opens(
    tmp_path: Path, zip_2021: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = Path("relative") / "dmd.sqlite"
    build_replica(target, zip_2021)
    assert replica_is_current(target)
    with Catalogue(target) as cat:
        assert cat.counts()["ampp"] > 0
