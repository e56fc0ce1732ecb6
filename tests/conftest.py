"""Shared fixtures: release zips built from the real dm+d samples, and replicas built from them once per session."""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import pytest

from core.dmd.build import BuildResult, build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.layout import packs_files
from core.paths import demo_release
from tests.clinic import Clinic, copy_clinic, make_clinic
from tests.fakes.memory_keyring import MemoryKeyring
from tests.release_zips import SAMPLE_2019, SAMPLE_2021, SAMPLE_BONUS_ZIP, build_bonus_zip, build_main_zip

# The Appwrite stand-in's fixtures: appwrite_server (a factory) and appwrite; localstripe (a fake Stripe server).
pytest_plugins = ["tests.fakes.appwrite.plugin", "tests.fakes.localstripe_server"]

# Qt widget tests need no display (DESIGN.md section 9); set before pytest-qt creates the QApplication. The card
# payment page's tests start Qt WebEngine, whose Chromium sandbox refuses to run as root (as CI runs).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class BuiltReplica:
    """A replica built by the test session, with what it was built from."""

    path: Path
    result: BuildResult
    main: Path  # zip or extracted folder
    bonus: Path | None


@pytest.fixture(scope="session")
def zip_2019(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_main_zip(SAMPLE_2019, tmp_path_factory.mktemp("zip2019"))


@pytest.fixture(scope="session")
def zip_2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_main_zip(SAMPLE_2021, tmp_path_factory.mktemp("zip2021"))


@pytest.fixture(scope="session")
def bonus_zip_2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bonus-style files of the 2021 sample folder as a supplementary release zip."""
    return build_bonus_zip(SAMPLE_2021, tmp_path_factory.mktemp("bonus2021"))


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, main: Path, bonus: Path | None) -> BuiltReplica:
    target = tmp_path_factory.mktemp(name) / "dmd.sqlite"
    result = build_replica(target, main, bonus, parallel=False)
    return BuiltReplica(target, result, main, bonus)


@pytest.fixture(scope="session")
def replica_2019(tmp_path_factory: pytest.TempPathFactory, zip_2019: Path) -> BuiltReplica:
    """The 2019 main release zip with the 2024 supplementary release (as TRUD ships it)."""
    return _build(tmp_path_factory, "replica2019", zip_2019, SAMPLE_BONUS_ZIP)


@pytest.fixture(scope="session")
def replica_2021(tmp_path_factory: pytest.TempPathFactory, zip_2021: Path, bonus_zip_2021: Path) -> BuiltReplica:
    """The 2021 main release zip with its own bonus-style files zipped as a supplementary release."""
    return _build(tmp_path_factory, "replica2021", zip_2021, bonus_zip_2021)


@pytest.fixture(scope="session")
def catalogue_2019(replica_2019: BuiltReplica) -> Iterator[Catalogue]:
    with Catalogue(replica_2019.path) as cat:
        yield cat


@pytest.fixture(scope="session")
def catalogue_2021(replica_2021: BuiltReplica) -> Iterator[Catalogue]:
    with Catalogue(replica_2021.path) as cat:
        yield cat


@dataclass(frozen=True)
class ExistingReplica:
    """A good replica already in use at ``path``: a failed import must leave it (its main file and its packs
    file), and only it, in place."""

    path: Path
    sha256: dict[str, str]  # of each of its files, by name

    @classmethod
    def of(cls, path: Path) -> ExistingReplica:
        files = [path, *packs_files(path)]
        assert len(files) == 2, "a replica is a main file and a packs file"
        return cls(path, {p.name: sha256_of(p) for p in files})

    def assert_untouched(self) -> None:
        assert sorted(p.name for p in self.path.parent.iterdir()) == sorted(self.sha256), "leftover files"
        for name, sha256 in self.sha256.items():
            assert sha256_of(self.path.with_name(name)) == sha256, f"the previous replica's {name} was modified"
        with Catalogue(self.path) as cat:
            assert cat.counts()["vmp"] > 0
            assert cat.counts()["ampp"] > 0


@pytest.fixture
def existing_replica(tmp_path: Path, zip_2021: Path) -> ExistingReplica:
    target = tmp_path / "data" / "dmd.sqlite"
    build_replica(target, zip_2021, parallel=False)
    return ExistingReplica.of(target)


@pytest.fixture(scope="session")
def clinic_template(tmp_path_factory: pytest.TempPathFactory) -> Clinic:
    installation = make_clinic(tmp_path_factory.mktemp("clinic") / "rxdesk.sqlite")
    installation.database.close()
    return installation


@pytest.fixture
def clinic(clinic_template: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    """A fresh app database with a clinic, a pharmacy and signed-in users of every role."""
    installation = copy_clinic(clinic_template, tmp_path / "rxdesk.sqlite")
    yield installation
    installation.database.close()


@pytest.fixture(scope="session")
def demo_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """The bundled demo catalogue (realistic names, packs, GTINs and controlled drugs), built once per session."""
    main, bonus = demo_release()
    target = tmp_path_factory.mktemp("demo") / "dmd.sqlite"
    build_replica(target, main, bonus, parallel=False)
    with Catalogue(target) as cat:
        yield cat


@pytest.fixture(autouse=True)
def collect_garbage_between_tests() -> Iterator[None]:
    """As the app does (desktop.garbage_collector): no automatic collection, which could start in a worker thread
    or inside Qt's event dispatch and free Qt objects there; instead a collection on the main thread after each
    test, once its widgets are closed."""
    gc.disable()
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def ui_settings_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qt's per-workstation UI settings (desktop.ui_settings: printers) in a fresh folder for each test, so tests
    never read or write the user's, nor each other's."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("ui-settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The OS keyring replaced by one in memory for the test (no secret of the machine is read or written)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
