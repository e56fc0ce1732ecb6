"""The weekly catalogue update from TRUD, against a real HTTP stand-in (tests/fakes/trud_server.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import keyring
import keyring.backends.fail
import pytest

from sync import secrets
from sync.trud import (
    NetworkPolicy,
    TrudError,
    TrudIntegrityError,
    TrudKeyChangedError,
    TrudKeyInvalidError,
    TrudNotSubscribedError,
    TrudRelease,
    TrudResponseError,
    TrudUnavailableError,
    UpdateOutcome,
    download_release,
    fetch_latest_release,
    update_catalogue,
)
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.trud_server import FakeTrud, Fault
from tests.release_zips import SAMPLE_2019, SAMPLE_2021, build_bonus_zip, build_main_zip

KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"  # 40 hex characters, like a real TRUD key


# ------------------------------------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Zips:
    main: Path
    bonus: Path

    @property
    def main_sha256(self) -> str:
        return hashlib.sha256(self.main.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> Zips:
    out = tmp_path_factory.mktemp("release")
    return Zips(build_main_zip(SAMPLE_2019, out), build_bonus_zip(SAMPLE_2021, out))


@pytest.fixture
def trud(zips: Zips) -> Iterator[FakeTrud]:
    with FakeTrud(keys={KEY: {24, 25}}) as server:
        server.publish(24, zips.main)
        server.publish(25, zips.bonus)
        yield server


@dataclass
class Sleeps:
    """Stands in for time.sleep: records the delays asked for and returns at once."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> NetworkPolicy:
    return NetworkPolicy(
        attempts=3,
        base_delay=0.001,
        max_delay=0.01,
        max_retry_after=30,
        timeout=httpx.Timeout(5.0),
        sleep=sleeps,
    )


@dataclass
class Installer:
    """Records what update_catalogue hands to the replica builder (the real one is wired in elsewhere)."""

    calls: list[tuple[Path, Path | None]] = field(default_factory=list)
    contents: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def __call__(self, main_zip: Path, bonus_zip: Path | None) -> None:
        self.calls.append((main_zip, bonus_zip))
        # Read now: the zips are deleted once install returns.
        self.contents.append((main_zip.read_bytes(), bonus_zip.read_bytes() if bonus_zip else None))


def run_update(
    trud: FakeTrud,
    data_dir: Path,
    policy: NetworkPolicy,
    *,
    key: str = KEY,
    installed_sha256: str | None = None,
    include_bonus: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Installer, UpdateOutcome]:
    installer = Installer()
    outcome = update_catalogue(
        data_dir,
        key,
        install=installer,
        installed_sha256=installed_sha256,
        include_bonus=include_bonus,
        base_url=trud.base_url,
        progress=progress,
        policy=policy,
    )
    return installer, outcome


def latest(trud: FakeTrud, item: int, policy: NetworkPolicy) -> TrudRelease:
    return fetch_latest_release(KEY, item, base_url=trud.base_url, policy=policy)


# ------------------------------------------------------------------------------------------------ success


def test_release_list_is_parsed_like_trud_sends_it(trud: FakeTrud, zips: Zips, policy: NetworkPolicy) -> None:
    release = latest(trud, 24, policy)

    assert release.item == 24
    assert release.id == release.archive_file_name == zips.main.name
    assert release.release_date == date(2019, 4, 1)
    assert release.archive_size == zips.main.stat().st_size
    assert release.archive_sha256 == zips.main_sha256  # TRUD sends upper case; we keep lower case
    assert KEY in release.archive_url
    assert "archive_url" not in repr(release) and KEY not in repr(release)
    assert trud.seen("api")[0].path == FakeTrud.api_path(KEY, 24)


def test_update_downloads_and_installs_both_items(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    progress: list[tuple[int, int]] = []
    installer, outcome = run_update(trud, tmp_path, policy, progress=lambda d, t: progress.append((d, t)))

    downloads = tmp_path / "downloads"
    assert installer.calls == [(downloads / zips.main.name, downloads / zips.bonus.name)]
    assert installer.contents == [(zips.main.read_bytes(), zips.bonus.read_bytes())]
    assert outcome.updated is True
    assert outcome.release_name == "Release 4.0.1"
    assert outcome.release_date == date(2019, 4, 1)
    assert "Release 4.0.1" in outcome.message
    assert list(downloads.iterdir()) == []  # installed zips are deleted
    total = zips.main.stat().st_size + zips.bonus.stat().st_size
    assert progress[-1] == (total, total)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_update_without_bonus_installs_main_only(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    installer, _ = run_update(trud, tmp_path, policy, include_bonus=False)

    assert installer.calls == [(tmp_path / "downloads" / zips.main.name, None)]
    assert all("/items/25/" not in r.path for r in trud.seen())


def test_skips_everything_when_latest_release_is_installed(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    installer, outcome = run_update(trud, tmp_path, policy, installed_sha256=zips.main_sha256.upper())

    assert outcome.updated is False
    assert "already up to date" in outcome.message
    assert installer.calls == []
    assert trud.seen("download") == []


# ------------------------------------------------------------------------------------------------ resume


def test_resumes_after_a_cut_connection(trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path) -> None:
    release = latest(trud, 24, policy)
    trud.add_faults(FakeTrud.download_path(KEY, 24, zips.main.name), Fault(cut_after=1000))

    path = download_release(release, tmp_path, policy=policy)

    downloads = trud.seen("download")
    assert len(downloads) == 2
    assert "range" not in downloads[0].headers
    assert downloads[1].headers["range"] == "bytes=1000-"
    assert path.read_bytes() == zips.main.read_bytes()
    assert not (tmp_path / (zips.main.name + ".part")).exists()


def test_partial_download_from_an_earlier_run_is_resumed(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    path = FakeTrud.download_path(KEY, 24, zips.main.name)
    trud.add_faults(path, Fault(cut_after=700), *[Fault(status=503)] * policy.attempts)
    with pytest.raises(TrudUnavailableError):
        run_update(trud, tmp_path, policy)
    part = tmp_path / "downloads" / (zips.main.name + ".part")
    assert part.stat().st_size == 700  # kept for the next run

    installer, outcome = run_update(trud, tmp_path, policy)

    assert outcome.updated is True
    assert trud.seen("download")[-2].headers["range"] == "bytes=700-"  # main resumed, then bonus
    assert installer.contents[0][0] == zips.main.read_bytes()


def test_server_ignoring_range_restarts_from_the_start(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    release = latest(trud, 24, policy)
    trud.add_faults(FakeTrud.download_path(KEY, 24, zips.main.name), Fault(cut_after=1500), Fault(ignore_range=True))

    path = download_release(release, tmp_path, policy=policy)

    assert trud.seen("download")[1].headers["range"] == "bytes=1500-"
    assert path.read_bytes() == zips.main.read_bytes()


def test_verified_download_left_by_a_failed_install_is_reused(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path
) -> None:
    def broken_install(main_zip: Path, bonus_zip: Path | None) -> None:
        raise RuntimeError("replica build failed")

    with pytest.raises(RuntimeError):
        update_catalogue(
            tmp_path,
            KEY,
            install=broken_install,
            installed_sha256=None,
            base_url=trud.base_url,
            policy=policy,
        )
    assert (tmp_path / "downloads" / zips.main.name).exists()
    downloads_before = len(trud.seen("download"))

    installer, _ = run_update(trud, tmp_path, policy)

    assert len(trud.seen("download")) == downloads_before
    assert installer.contents == [(zips.main.read_bytes(), zips.bonus.read_bytes())]


# ------------------------------------------------------------------------------------------------ integrity


def test_checksum_mismatch_deletes_the_file(trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path) -> None:
    trud.publish(24, zips.main, advertised_sha256="ab" * 32)

    with pytest.raises(TrudIntegrityError, match="does not match the SHA-256 checksum TRUD published"):
        run_update(trud, tmp_path, policy)

    assert list((tmp_path / "downloads").iterdir()) == []


@pytest.mark.parametrize("difference", [+10, -10])
def test_size_mismatch_deletes_the_file(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path, difference: int
) -> None:
    trud.publish(24, zips.main, advertised_size=zips.main.stat().st_size + difference)
    release = latest(trud, 24, policy)

    with pytest.raises(TrudIntegrityError, match="bytes TRUD published"):
        download_release(release, tmp_path, policy=policy)

    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ errors


def test_unknown_key_is_reported_as_not_valid(trud: FakeTrud, policy: NetworkPolicy, tmp_path: Path) -> None:
    with pytest.raises(TrudKeyInvalidError, match="TRUD API key is not valid") as caught:
        run_update(trud, tmp_path, policy, key="not-a-key")
    assert isinstance(caught.value, TrudError)
    assert len(trud.seen()) == 1  # not retried


def test_changed_key_asks_for_the_new_one(trud: FakeTrud, policy: NetworkPolicy, tmp_path: Path) -> None:
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(status=401))

    with pytest.raises(TrudKeyChangedError, match="rxdesk dmd set-trud-key"):
        run_update(trud, tmp_path, policy)


def test_missing_main_subscription_names_the_item(trud: FakeTrud, policy: NetworkPolicy, tmp_path: Path) -> None:
    trud.keys[KEY] = {25}

    with pytest.raises(TrudNotSubscribedError, match=re.escape("not subscribed to NHSBSA dm+d (item 24)")) as e:
        run_update(trud, tmp_path, policy)
    assert KEY not in str(e.value)  # TRUD's own 404 message quotes the key; ours must not


def test_without_the_supplementary_subscription_the_main_release_still_installs(
    trud: FakeTrud, policy: NetworkPolicy, tmp_path: Path
) -> None:
    trud.keys[KEY] = {24}

    installer, outcome = run_update(trud, tmp_path, policy)

    assert outcome.updated
    assert "without the supplementary release" in outcome.message
    assert len(installer.calls) == 1 and installer.calls[0][1] is None
    assert KEY not in outcome.message


def test_429_and_500_are_retried_honouring_retry_after(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, sleeps: Sleeps, tmp_path: Path
) -> None:
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(status=429, retry_after="7"), Fault(status=500))
    trud.add_faults(FakeTrud.download_path(KEY, 25, zips.bonus.name), Fault(status=503))

    installer, outcome = run_update(trud, tmp_path, policy)

    assert outcome.updated is True
    assert len(installer.calls) == 1
    assert sleeps.delays[0] == 7
    assert len(sleeps.delays) == 3 and all(d <= 0.01 for d in sleeps.delays[1:])


def test_too_long_retry_after_gives_up_at_once(
    trud: FakeTrud, policy: NetworkPolicy, sleeps: Sleeps, tmp_path: Path
) -> None:
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(status=503, retry_after="3600"))

    with pytest.raises(TrudUnavailableError):
        run_update(trud, tmp_path, policy)
    assert sleeps.delays == []


def test_exhausted_retries_say_the_server_is_unavailable(trud: FakeTrud, policy: NetworkPolicy, tmp_path: Path) -> None:
    trud.add_faults(FakeTrud.api_path(KEY, 24), *[Fault(status=500)] * policy.attempts)

    with pytest.raises(TrudUnavailableError, match=r"unavailable.*try the catalogue update again later"):
        run_update(trud, tmp_path, policy)
    assert len(trud.seen("api")) == policy.attempts


def test_read_timeout_is_retried(trud: FakeTrud, zips: Zips, sleeps: Sleeps, tmp_path: Path) -> None:
    policy = NetworkPolicy(attempts=3, base_delay=0.001, timeout=httpx.Timeout(2.0, read=0.2), sleep=sleeps)
    trud.add_faults(FakeTrud.download_path(KEY, 24, zips.main.name), Fault(stall=0.5))
    release = latest(trud, 24, policy)

    path = download_release(release, tmp_path, policy=policy)

    assert path.read_bytes() == zips.main.read_bytes()
    assert len(sleeps.delays) == 1


def test_connection_refused_is_retried_then_reported(policy: NetworkPolicy, tmp_path: Path) -> None:
    with FakeTrud() as gone:
        base_url = gone.base_url  # nothing listens here once stopped

    with pytest.raises(TrudUnavailableError):
        fetch_latest_release(KEY, 24, base_url=base_url, policy=policy)


@pytest.mark.parametrize("body", [b"<html>TRUD is down for maintenance</html>", b'{"releases": [{"id": 1}]}'])
def test_unreadable_release_list(trud: FakeTrud, policy: NetworkPolicy, body: bytes) -> None:
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(body=body))

    with pytest.raises(TrudResponseError, match="release list that RxDesk cannot read"):
        latest(trud, 24, policy)


@pytest.mark.parametrize("file_name", ["../../escape.zip", "sub/dir.zip", ".hidden.zip", ""])
def test_archive_name_that_is_not_a_plain_file_name_is_refused(
    trud: FakeTrud, policy: NetworkPolicy, file_name: str
) -> None:
    release = trud.release_json(KEY, 24) | {"archiveFileName": file_name}
    body = json.dumps({"apiVersion": "1", "releases": [release], "httpStatus": 200, "message": "OK"})
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(body=body.encode()))

    with pytest.raises(TrudResponseError):
        latest(trud, 24, policy)


def test_key_is_never_sent_over_plain_http_to_a_remote_host(policy: NetworkPolicy) -> None:
    with pytest.raises(TrudError, match="unencrypted"):
        fetch_latest_release(KEY, 24, base_url="http://isd.digital.nhs.uk", policy=policy)


# ------------------------------------------------------------------------------------------------ key hygiene


def test_key_never_appears_in_logs_or_errors(
    trud: FakeTrud, zips: Zips, policy: NetworkPolicy, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "sync"):
        caplog.set_level(logging.DEBUG, logger=name)
    main_path = FakeTrud.download_path(KEY, 24, zips.main.name)
    trud.add_faults(FakeTrud.api_path(KEY, 24), Fault(status=429, retry_after="0"))
    # A redirect whose Location holds the key, then a cut transfer: the paths most likely to leak a URL.
    trud.add_faults(main_path, Fault(redirect=trud.base_url + main_path), Fault(cut_after=900))

    run_update(trud, tmp_path, policy)
    trud.add_faults(FakeTrud.api_path(KEY, 24), *[Fault(status=503)] * policy.attempts)
    with pytest.raises(TrudUnavailableError) as unavailable:
        run_update(trud, tmp_path, policy)
    trud.keys[KEY] = {25}  # TRUD's 404 body for item 24 quotes the key
    with pytest.raises(TrudNotSubscribedError) as not_subscribed:
        run_update(trud, tmp_path, policy)

    assert "HTTP Request: GET" in caplog.text  # the httpx and httpcore records really were captured
    assert "receive_response_headers" in caplog.text
    assert any(r.headers.get("range") == "bytes=900-" for r in trud.seen("download"))
    assert KEY not in caplog.text
    assert all(KEY not in r.getMessage() for r in caplog.records)
    for error in (unavailable.value, not_subscribed.value):
        assert KEY not in "".join(traceback.format_exception(error))
        assert KEY not in repr(error)


# ------------------------------------------------------------------------------------------------ keyring


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring(restore_keyring: None) -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def test_key_round_trips_through_the_keyring(memory_keyring: MemoryKeyring) -> None:
    assert secrets.get_trud_key() is None

    secrets.set_trud_key(f"  {KEY}\n")

    assert secrets.get_trud_key() == KEY
    assert memory_keyring.secrets == {("rxdesk", "trud-api-key"): KEY}
    secrets.delete_trud_key()
    assert secrets.get_trud_key() is None
    secrets.delete_trud_key()  # deleting twice is fine


def test_empty_key_is_refused(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ValueError, match="empty"):
        secrets.set_trud_key("  \n")
    assert memory_keyring.secrets == {}


@pytest.mark.usefixtures("restore_keyring")
@pytest.mark.parametrize("action", ["get", "set", "delete"])
def test_no_keyring_gives_one_clear_error(action: str) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # what headless Linux without D-Bus gives
    calls = {
        "get": secrets.get_trud_key,
        "set": lambda: secrets.set_trud_key(KEY),
        "delete": secrets.delete_trud_key,
    }

    with pytest.raises(secrets.SecretStoreError, match="No system keyring is available") as caught:
        calls[action]()

    assert KEY not in "".join(traceback.format_exception(caught.value))
