"""Start the frozen app as a user would and check that it works: ``make dist-check`` (after ``make dist``).

    python -m tests.check_dist [--app dist/RxDesk/rxdesk] [--starts 5]

Every step starts the app as a new process, with offscreen Qt and a data folder of its own (RXDESK_HOME in a
temporary folder), and prints one line; the first failure is one line on stderr and exit 1.

1. First start: ``rxdesk --check-start`` (desktop/start_check.py: the ordinary start, watched) makes the demo
   installation, builds the catalogue from the bundled demo release, shows and paints the sign-in window.
2. That start left ``dmd.sqlite`` in the data folder, and ``rxdesk dmd info --json`` names the bundled demo release
   with the demo preset's record counts: the command line works frozen too.
3. Cold starts with the catalogue in place: new processes to the painted sign-in window, timed from the outside.
4. Documents: the command line signs in as the demo prescriber, writes, signs and prints a prescription; the PDF
   has the bundled DejaVu Sans embedded and both its barcodes (Code 128 and QR) read back as the prescription id.
5. The card form: ``rxdesk --check-card-form`` shows the top-up's payment page in Qt WebEngine, offscreen.
6. The parse worker: a release over the one-core threshold is imported by ``rxdesk dmd import``, then built by the
   GUI's first start from a data folder that keeps it in ``releases/``. Both times a second process of the app
   (``--multiprocessing-fork``) must be seen parsing, and the build must not fall back to one core.

``--app`` is a command line: ``--app "python -m desktop"`` checks the source tree the same way (the tests do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pypdfium2  # type: ignore[import-untyped]
import zxingcpp

from benchmarks.generate_release import DEMO, ReleaseCounts, generate_release
from core.demo import DEMO_PASSWORD, DEMO_PATIENTS, DEMO_PIN
from core.dmd.build import PARALLEL_THRESHOLD
from core.paths import demo_release

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP = ROOT / "dist" / "RxDesk" / "rxdesk"
STEP_TIMEOUT_S = 300.0
PAINTED = "is shown and painted"
WORKER_FLAG = "--multiprocessing-fork"  # how multiprocessing's spawn starts a child, frozen or not
ONE_CORE = "building on one core"  # core.dmd.build's warning when the worker could not start or died
# Twice the demo release: over the parallel threshold, still built in a few seconds.
WORKER_RELEASE = ReleaseCounts(vtm=800, vmp=3000, vmpp=4400, amp=7000, ampp=8000, gtin=5000)
WORKER_RELEASE_VERSION = "11.2.0"


class CheckFailed(Exception):
    """One step did not do what it must: the message is the line printed."""


@dataclass
class Run:
    """One process of the app: exit code, stdout lines with the seconds after the start at which each arrived,
    stderr, and the command lines of the processes it started."""

    returncode: int
    lines: list[tuple[float, str]]
    stderr: str
    children: list[list[str]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def seconds_to(self, text: str) -> float | None:
        return next((at for at, line in self.lines if text in line), None)

    def last_words(self) -> str:
        """The app's own account of a failure: its last "rxdesk: ..." line on stderr, else the last line there (or
        on stdout), else how it ended."""
        for stream in (self.stderr, self.stdout):
            lines = [line.strip() for line in stream.splitlines() if line.strip()]
            own = [line for line in lines if line.startswith("rxdesk:")]
            if own or lines:
                return (own or lines)[-1]
        return f"exit code {self.returncode}"


class App:
    """The app under test: a command line (the frozen executable, or ``python -m desktop``)."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)

    def run(
        self, args: Sequence[str], home: Path, *, watch_children: bool = False, env: dict[str, str] | None = None
    ) -> Run:
        env = {**os.environ, "RXDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", **(env or {})}
        lines: list[tuple[float, str]] = []
        errors: list[str] = []
        children: dict[int, list[str]] = {}
        started = time.perf_counter()
        try:
            process = subprocess.Popen(
                [*self.command, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as exc:
            raise CheckFailed(f"{shlex.join(self.command)} cannot be started ({exc})") from exc
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout, process.stderr

        def read_stdout() -> None:
            for line in out:
                lines.append((time.perf_counter() - started, line.rstrip("\n")))

        readers = [threading.Thread(target=read_stdout), threading.Thread(target=lambda: errors.append(err.read()))]
        for reader in readers:
            reader.start()
        try:
            while process.poll() is None:
                if watch_children:
                    _note_children(process.pid, children)
                if time.perf_counter() - started > STEP_TIMEOUT_S:
                    process.kill()
                    raise CheckFailed(f"rxdesk {shlex.join(args)} did not finish within {STEP_TIMEOUT_S:g} s")
                time.sleep(0.02 if watch_children else 0.05)
        finally:
            process.wait()
            for reader in readers:
                reader.join()
        return Run(process.returncode, lines, "".join(errors), list(children.values()))


def _note_children(pid: int, seen: dict[int, list[str]]) -> None:
    """Each child's latest command line: read again every time, since a child caught between fork and exec
    still shows its parent's."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:  # the process ended meanwhile
        return
    for child in children:
        with contextlib.suppress(psutil.Error):  # the child ended meanwhile
            seen[child.pid] = child.cmdline()


def check_first_start(app: App, home: Path) -> None:
    run = app.run(["--check-start"], home)
    if run.returncode != 0:
        raise CheckFailed(f"the first start failed: {run.last_words()}")
    painted = run.seconds_to(PAINTED)
    if painted is None or "medicines catalogue" not in run.stdout:
        raise CheckFailed(f"the first start did not report the sign-in window and the catalogue: {run.stdout!r}")
    print(
        f"first start: sign-in window painted after {painted:.2f} s; demo catalogue built, exit 0 after "
        f"{run.lines[-1][0]:.2f} s"
    )


def check_catalogue(app: App, home: Path) -> None:
    replica = home / "dmd.sqlite"
    if not replica.is_file():
        raise CheckFailed(f"the first start left no catalogue ({replica} is missing)")
    expected_name = demo_release()[0].stem
    info = _dmd_info(app, home)
    name = info["release"]["name"]
    if name != expected_name:
        raise CheckFailed(f"the catalogue is release {name}, not the bundled demo release {expected_name}")
    _expect_counts(info["counts"], DEMO, "the demo release")
    counts = info["counts"]
    print(
        f"catalogue: {replica.name} ({replica.stat().st_size / 1e6:.1f} MB) is {name}; rxdesk dmd info --json: "
        f"{counts['vtm']} VTM, {counts['vmp']} VMP, {counts['vmpp']} VMPP, {counts['amp']} AMP, "
        f"{counts['ampp']} AMPP, {counts['gtin']} GTIN"
    )


def _dmd_info(app: App, home: Path) -> dict[str, dict[str, object]]:
    run = app.run(["dmd", "info", "--json"], home)
    if run.returncode != 0:
        raise CheckFailed(f"rxdesk dmd info --json failed: {run.last_words()}")
    try:
        info = json.loads(run.stdout)
        assert isinstance(info["release"]["name"], str) and isinstance(info["counts"], dict)
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise CheckFailed(f"rxdesk dmd info --json printed no catalogue description: {run.stdout[:200]!r}") from exc
    return info  # type: ignore[no-any-return]


def _expect_counts(counts: dict[str, object], expected: ReleaseCounts, what: str) -> None:
    for table in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin"):
        if counts.get(table) != getattr(expected, table):
            raise CheckFailed(
                f"the catalogue has {counts.get(table)} {table.upper()}, {what} has {getattr(expected, table)}"
            )


def check_cold_starts(app: App, home: Path, starts: int) -> list[float]:
    samples = []
    for _ in range(starts):
        run = app.run(["--check-start"], home)
        painted = run.seconds_to(PAINTED)
        if run.returncode != 0 or painted is None:
            raise CheckFailed(f"a start with the catalogue in place failed: {run.last_words()}")
        samples.append(painted)
    print(
        f"cold start to the painted sign-in window ({starts} new processes, catalogue in place): "
        f"p50 {statistics.median(samples):.2f} s, max {max(samples):.2f} s"
    )
    return samples


def check_documents(app: App, home: Path) -> None:
    doctor = {"RXDESK_USER": "doctor", "RXDESK_PASSWORD": DEMO_PASSWORD, "RXDESK_PIN": DEMO_PIN}
    patient = DEMO_PATIENTS[0]

    def rxdesk(*args: str) -> str:
        run = app.run(args, home, env=doctor)
        if run.returncode != 0:
            raise CheckFailed(f"rxdesk {shlex.join(args[:2])} failed: {run.last_words()}")
        return run.stdout

    patients = _json(rxdesk("patient", "search", patient.family_name, "--json"), "rxdesk patient search")
    products = _json(rxdesk("dmd", "search", "amoxicillin 250mg capsules", "--json"), "rxdesk dmd search")
    product = next((p["id"] for p in products if p["type"] == "vmp"), None)
    if not patients or product is None:
        raise CheckFailed("the demo installation has no patient Jones or the catalogue no amoxicillin capsules")
    prescription = rxdesk("prescription", "new", patients[0]["id"]).strip()
    rxdesk(
        "prescription",
        "add",
        prescription,
        product,
        "--dose",
        "1 capsule",
        "--directions",
        "three times a day",
        "--quantity",
        "21",
        "--days",
        "7",
    )
    rxdesk("prescription", "sign", prescription)
    pdf = home / "prescription.pdf"
    rxdesk("prescription", "print", prescription, "--out", str(pdf))
    data = pdf.read_bytes() if pdf.is_file() else b""
    if not data.startswith(b"%PDF") or b"DejaVuSans" not in data:
        raise CheckFailed(f"the printed prescription is not a PDF with DejaVu Sans embedded ({len(data)} bytes)")
    barcodes = _barcodes(data)
    if barcodes != {"Code128": prescription, "QRCode": prescription}:
        raise CheckFailed(f"the printed prescription's barcodes read {barcodes}, not its id {prescription}")
    print(
        f"documents: a signed prescription printed to PDF ({len(data) / 1000:.0f} kB), DejaVu Sans embedded, "
        "its Code 128 and QR symbols read back as its id"
    )


def _json(text: str, what: str) -> list[dict[str, str]]:
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise CheckFailed(f"{what} --json printed no JSON: {text[:200]!r}") from exc
    if not isinstance(found, list):
        raise CheckFailed(f"{what} --json printed no list: {text[:200]!r}")
    return found


def _barcodes(pdf: bytes) -> dict[str, str]:
    """Barcode format name → text, on the first page rendered at 300 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=300 / 72).to_pil()
    finally:
        document.close()
    return {result.format.name: result.text for result in zxingcpp.read_barcodes(image)}


def check_card_form(app: App, home: Path) -> None:
    run = app.run(["--check-card-form"], home)
    if run.returncode != 0:
        raise CheckFailed(f"rxdesk --check-card-form failed: {run.last_words()}")
    print(run.stdout.strip().splitlines()[-1])


def check_parse_worker(app: App, work: Path) -> None:
    release = generate_release(work / "release", WORKER_RELEASE, version=WORKER_RELEASE_VERSION)
    xml_bytes = sum(release.sizes.values())
    if xml_bytes < PARALLEL_THRESHOLD:
        raise CheckFailed(f"the worker check's release ({xml_bytes} bytes of XML) is under the parallel threshold")

    home = work / "import"
    run = app.run(["dmd", "import", str(release.main_zip)], home, watch_children=True)
    if run.returncode != 0:
        raise CheckFailed(f"rxdesk dmd import of a {xml_bytes / 1e6:.0f} MB release failed: {run.last_words()}")
    _expect_worker(run, "rxdesk dmd import")
    _expect_counts(_dmd_info(app, home)["counts"], WORKER_RELEASE, "the imported release")

    home = work / "gui"
    (home / "releases").mkdir(parents=True)
    (home / "releases" / release.main_zip.name).write_bytes(release.main_zip.read_bytes())
    run = app.run(["--check-start"], home, watch_children=True)
    if run.returncode != 0:
        raise CheckFailed(f"a first start from a kept {xml_bytes / 1e6:.0f} MB release failed: {run.last_words()}")
    _expect_worker(run, "the GUI's catalogue build")
    _expect_counts(_dmd_info(app, home)["counts"], WORKER_RELEASE, "the kept release")
    print(
        f"parse worker: a {xml_bytes / 1e6:.0f} MB release was parsed by a second process of the app, by "
        "rxdesk dmd import and by the GUI's first start"
    )


def _expect_worker(run: Run, what: str) -> None:
    if ONE_CORE in run.stderr:
        line = next(line for line in run.stderr.splitlines() if ONE_CORE in line)
        raise CheckFailed(f"{what} fell back to one core: {line.strip()}")
    if not any(WORKER_FLAG in command for command in run.children):
        raise CheckFailed(f"{what} started no parse worker (its processes: {run.children})")


def folder_size(executable: Path) -> str:
    files = [p for p in executable.parent.rglob("*") if p.is_file() and not p.is_symlink()]
    return f"{executable.parent}: {sum(p.stat().st_size for p in files) / 1e6:.0f} MB in {len(files)} files"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the frozen RxDesk as a user would and check that it works.")
    parser.add_argument("--app", default=str(DEFAULT_APP), help="the app's command line (default: %(default)s)")
    parser.add_argument("--starts", type=int, default=5, help="cold starts to time (default: %(default)s)")
    parser.add_argument("--no-documents", action="store_true", help="skip the documents step")
    parser.add_argument("--no-worker", action="store_true", help="skip the parse worker step")
    args = parser.parse_args(argv)
    command = shlex.split(args.app)
    executable = Path(command[0])
    if len(command) == 1 and not (executable.is_file() and os.access(executable, os.X_OK)):
        print(f"check_dist: {executable} is not there: build it with `make dist`.", file=sys.stderr)
        return 1
    app = App(command)
    try:
        if len(command) == 1:
            print(folder_size(executable))
        with tempfile.TemporaryDirectory(prefix="rxdesk-dist-check-") as tmp:
            home = Path(tmp) / "home"
            check_first_start(app, home)
            check_catalogue(app, home)
            if args.starts > 0:
                check_cold_starts(app, home, args.starts)
            if not args.no_documents:
                check_documents(app, home)
            check_card_form(app, home)
            if not args.no_worker:
                check_parse_worker(app, Path(tmp))
    except CheckFailed as exc:
        print(f"check_dist: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"check_dist: {shlex.join(command)} passed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
