"""Patient search latency over 100,000 patients, and a 10,000-row CSV import, end to end.

    python -m benchmarks.bench_patients [--patients N] [--rows N]

(a) A database of synthetic patients (common UK surnames and given names with their real skew, a few with
apostrophes, hyphens and accents; dates of birth 1925-2025; postcodes in real outward codes; most with an NHS
number) is written in bulk (setup, not measured). Then ``search_patients`` is timed, as the GUI calls it, over a mix of
what a receptionist types: surname prefixes of 1-5 letters, full names in three forms, given names, NHS numbers
(on file and not), dates of birth, postcodes whole and partial, and combinations. Target: p95 ≤ 20 ms.

(b) A 10,000-row CSV export (a few bad rows and duplicates among them) is generated and ``import_patients_csv``
timed end to end: into an empty database, and into the 100,000-patient one. Target: ≤ 10 s.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.common import describe_machine, summary
from core.context import ServiceContext
from core.ids import new_id
from core.patients.csv_import import import_patients_csv
from core.patients.records import name_key
from core.patients.search import search_patients
from core.storage.database import APP_DATABASE_NAME, open_database
from core.storage.models import Patient
from core.users.roles import Role
from core.users.service import NewUser, create_first_admin
from core.validation.contact import postcode_key
from core.validation.nhs_number import format_nhs_number, nhs_check_digit


def words(text: str) -> list[str]:
    return text.split()


# The most common surnames in England and Wales (ONS), most frequent first, plus a few that exercise the keys.
# Spaces inside a name are written as _ here.
SURNAME_LIST = [
    name.replace("_", " ")
    for name in words(
        "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
        "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
        "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
        "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
        "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman "
        "Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight "
        "Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher "
        "Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West "
        "Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant "
        "Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page Marsh "
        "Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton Oliver Reed "
        "Kennedy Williamson Bird Gardner Shah Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton Burns "
        "Nicholson Shepherd Ross Cross Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson "
        "Robson Curtis Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin Sharp Hardy "
        "Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke May Pritchard "
        "Gilbert Willis Higgins Read Miles Stevenson Stephenson Hammond Arnold Buckley Walters Hewitt Barber "
        "Nelson Slater Austin Sullivan Whitehead Mann Frost Lambert Stephens Blake Akhtar Lynch Goodwin Barton "
        "Woodward Thomson Cunningham Quinn Barnett Baxter Bibi Clayton Nash Greenwood Jennings Holt Kemp Poole "
        "Gallagher Bond Stokes Tucker Davidson Fowler Heath Norman Middleton Lawson Banks French Stanley Jarvis "
        "Gibbs Ferguson Hayward Carroll Douglas Dickinson Todd Barlow Peters Lucas Knowles Hartley Miah Simmons "
        "Morton Alexander Field Morrison Norris Townsend Preston Hancock Thornton Baldwin Burrows Briggs Storey "
        "Pope Rahman Núñez Smith-Jones Ní_Bhriain Van_der_Berg Zieliński"
    )
]
GIVEN_NAMES = words(
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Henry Leo Alfie Joshua Freddie "
    "Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur Lucas Mohammed Logan David John Michael "
    "Peter Paul Robert Richard Stephen Mark Andrew Christopher Anthony Kevin Gary Ian Alan Keith Colin Brian Ryan "
    "Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Sophia Grace Evie Sophie Jessica Chloe Ruby Freya "
    "Alice Florence Mary Margaret Susan Sarah Elizabeth Patricia Jennifer Linda Karen Helen Julie Jane Janet "
    "Anne Ann Christine Carol Gillian Dorothy Joan Joyce Irene Zoë Siobhán Aoife Priya Aisha Fatima Mary-Jane"
)
# Real outward codes, a few per region, with their valid inward-code letters (no C I K M O V).
OUTWARD = words(
    "LS1 LS2 LS6 LS11 LS14 LS17 BD1 BD7 HX1 HD1 WF1 YO1 YO10 S1 S10 S11 M1 M14 M20 L1 L8 L15 B1 B15 B33 CV1 NG1 "
    "NG7 LE1 DE1 NE1 NE6 SR1 DH1 TS1 HU1 DN1 DN55 SW1A SW11 SE1 SE15 E1 E14 N1 N16 NW1 W1A W2 EC1A WC2H BR1 CR2 "
    "BS1 BS8 CF10 SA1 EH1 EH8 G1 G12 AB10 DD1 BT1 BT9 PL1 EX1 TR1 OX1 CB1 NR1 IP1 CT1 BN1 SO14 PO1 RG1"
)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TODAY = date(2026, 3, 2)


class People:
    """Deterministic synthetic people."""

    def __init__(self, seed: int = 20260302) -> None:
        self.rng = random.Random(seed)
        self.used_nhs: set[str] = set()
        self._surname_weights = [1 / (rank + 1) ** 0.9 for rank in range(len(SURNAME_LIST))]
        self._given_weights = [1 / (rank + 1) ** 0.6 for rank in range(len(GIVEN_NAMES))]

    def nhs_number(self) -> str:
        while True:
            body = str(self.rng.randrange(400_000_000, 999_999_999))
            check = nhs_check_digit(body)
            if check is not None and body + str(check) not in self.used_nhs:
                number = body + str(check)
                self.used_nhs.add(number)
                return number

    def person(self) -> dict[str, Any]:
        rng = self.rng
        family = rng.choices(SURNAME_LIST, self._surname_weights)[0]
        given = rng.choices(GIVEN_NAMES, self._given_weights)[0]
        born = date(1925, 1, 1) + timedelta(days=rng.randrange((TODAY - date(1925, 1, 1)).days))
        outward = rng.choice(OUTWARD)
        postcode = f"{outward} {rng.randrange(10)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
        return {
            "given_name": given,
            "family_name": family,
            "date_of_birth": born,
            "nhs_number": self.nhs_number() if rng.random() < 0.9 else None,
            "postcode": postcode,
            "phone": f"07700 9{rng.randrange(100_000):05d}",
            "address": f"{rng.randrange(1, 200)} {rng.choice(['High Street', 'Station Road', 'Church Lane'])}",
        }


def build_patients(ctx: ServiceContext, people: People, count: int) -> list[dict[str, Any]]:
    """Bulk rows straight into the table (setup only: no audit, no outbox)."""
    now = datetime.now(UTC)
    rows = []
    for _ in range(count):
        p = people.person()
        rows.append(
            {
                **p,
                "id": new_id(),
                "organisation_id": None,
                "family_key": name_key(p["family_name"]),
                "given_key": name_key(p["given_name"]),
                "postcode_key": postcode_key(p["postcode"]),
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
        )
    with ctx.database.transaction() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Patient), rows[start : start + 10_000])
    return rows


def query_mix(rows: list[dict[str, Any]], rng: random.Random) -> dict[str, list[str]]:
    sample = rng.sample(rows, 60)
    mix: dict[str, list[str]] = defaultdict(list)
    for p in sample:
        family, given = p["family_name"], p["given_name"]
        key = name_key(family)
        for n in (1, 2, 3, 5):
            if n <= len(key):
                mix["surname prefix"].append(family.replace(" ", "")[:n].lower())
        mix["full name"] += [f"{given} {family}", f"{family}, {given}", f"{given[:3]} {family[:3]}"]
        mix["given name"].append(given.lower())
        if p["nhs_number"]:
            mix["NHS number"].append(format_nhs_number(p["nhs_number"]))
        mix["date of birth"] += [f"{p['date_of_birth']:%d/%m/%Y}", p["date_of_birth"].isoformat()]
        outward, inward = p["postcode"].split()
        mix["postcode"] += [outward, p["postcode"], f"{outward} {inward[0]}"]
        mix["combined"] += [f"{family} {p['date_of_birth']:%d/%m/%Y}", f"{family} {p['date_of_birth'].year}"]
    mix["NHS number"] += ["943 476 5919", "401 023 2137"]  # not on file
    return dict(mix)


def time_queries(ctx: ServiceContext, mix: dict[str, list[str]], repeat: int = 3) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for kind, texts in mix.items():
            for text in texts:
                start = time.perf_counter()
                search_patients(ctx, text)
                samples[kind].append((time.perf_counter() - start) * 1000)
    return samples


def write_csv(path: Path, people: People, count: int, existing: list[dict[str, Any]]) -> dict[str, int]:
    """A 10,000-row export: ~1% bad rows of several kinds, ~0.5% duplicates (in the file and of patients on file)."""
    rng = random.Random(7)
    planted = {"bad": 0, "duplicate": 0}
    lines = ["NHS Number,Title,First name,Surname,DOB,Sex,Address line 1,Address line 2,Postcode,Telephone,Email"]
    earlier: list[dict[str, Any]] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.01:
            planted["bad"] += 1
            kind = n % 4
            p = people.person()
            if kind == 0:
                lines.append(f"1234567890,,{p['given_name']},{p['family_name']},01/01/1970,,,,,,")
            elif kind == 1:
                lines.append(f",,{p['given_name']},{p['family_name']},31/02/1970,,,,,,")
            elif kind == 2:
                lines.append(f",,{p['given_name']},{p['family_name']},01/01/1970,,,,NOT A PC,,")
            else:
                lines.append(f",,{p['given_name']},{p['family_name']}")
            continue
        if roll < 0.015 and (earlier or existing):
            planted["duplicate"] += 1
            p = rng.choice(earlier or existing)
        else:
            p = people.person()
            earlier.append(p)
        nhs = format_nhs_number(p["nhs_number"]) if p["nhs_number"] else ""
        email = f"{name_key(p['given_name'])}.{name_key(p['family_name'])}{n}@example.org"
        lines.append(
            f'{nhs},,{p["given_name"]},"{p["family_name"]}",{p["date_of_birth"]:%d/%m/%Y},,'
            f"{p['address']},Leeds,{p['postcode']},{p['phone']},{email}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return planted


def time_import(ctx: ServiceContext, path: Path, label: str) -> None:
    start = time.perf_counter()
    report = import_patients_csv(ctx, path)
    elapsed = time.perf_counter() - start
    total = len(report.rows)
    print(
        f"CSV import, {label}: {elapsed:.2f} s for {total:,} rows ({total / elapsed:,.0f} rows/s): "
        f"{report.imported:,} imported, {report.duplicates:,} duplicates, "
        f"{report.possible_duplicates:,} possible duplicates, {report.rejected:,} rejected "
        f"({'OK' if elapsed <= 10 else 'over'} the 10 s target)"
    )


def open_installation(folder: Path) -> ServiceContext:
    database = open_database(folder / APP_DATABASE_NAME)
    return create_first_admin(database, NewUser("admin", "Bench Admin", Role.ADMIN, "benchmark password"), "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big").mkdir()
        (root / "empty").mkdir()
        people = People()
        ctx = open_installation(root / "big")
        start = time.perf_counter()
        rows = build_patients(ctx, people, args.patients)
        print(f"setup: {args.patients:,} patients written in bulk in {time.perf_counter() - start:.1f} s")

        mix = query_mix(rows, random.Random(1))
        for texts in mix.values():
            for text in texts[:5]:
                search_patients(ctx, text)  # warm the page cache as a running app has it
        samples = time_queries(ctx, mix)
        everything = [ms for values in samples.values() for ms in values]
        print(f"search_patients ({sum(len(t) for t in mix.values())} queries x3): {summary(everything, 'searches')}")
        print(f"  max {max(everything):.3f} ms; target p95 <= 20 ms")
        for kind, values in samples.items():
            print(f"  {kind:<15} {summary(values, 'searches')}")
        example = search_patients(ctx, "smi jo", limit=3)
        print("  e.g. 'smi jo' →", [f"{p.given_name} {p.family_name} {p.date_of_birth:%d/%m/%Y}" for p in example])

        csv_path = root / "patients.csv"
        planted = write_csv(csv_path, people, args.rows, rows)
        print(f"CSV: {args.rows:,} rows, {planted['bad']} planted bad rows, {planted['duplicate']} planted duplicates")
        time_import(open_installation(root / "empty"), csv_path, "into an empty database")
        time_import(ctx, csv_path, f"into the {args.patients:,}-patient database")
        ctx.database.close()


if __name__ == "__main__":
    main()
