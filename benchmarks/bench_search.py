"""Type-ahead search and GTIN lookup latency on the full-size replica.

    python -m benchmarks.bench_search [REPLICA]

Queries are what a prescriber types: 2-6 letter prefixes of common drugs and a few two-word queries, each timed
as the catalogue call the GUI and the CLI make (first 20 results).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import describe_machine, full_release, summary
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.dmd.gtin import gtin_check_digit

COMMON_DRUGS = [
    "paracetamol",
    "ibuprofen",
    "amoxicillin",
    "omeprazole",
    "atorvastatin",
    "metformin",
    "amlodipine",
    "ramipril",
    "sertraline",
    "salbutamol",
    "morphine",
    "codeine",
    "diazepam",
    "lansoprazole",
    "levothyroxine",
    "simvastatin",
    "bisoprolol",
    "furosemide",
    "citalopram",
    "fluoxetine",
    "prednisolone",
    "aspirin",
    "clopidogrel",
    "warfarin",
    "apixaban",
    "gabapentin",
    "pregabalin",
    "tramadol",
    "naproxen",
    "doxycycline",
    "flucloxacillin",
    "clarithromycin",
    "nitrofurantoin",
    "trimethoprim",
    "cetirizine",
    "loratadine",
    "beclometasone",
    "fluticasone",
    "insulin",
    "gliclazide",
    "lisinopril",
    "losartan",
    "candesartan",
    "bendroflumethiazide",
    "mirtazapine",
    "amitriptyline",
    "quetiapine",
    "olanzapine",
    "zopiclone",
    "oxycodone",
    "fentanyl",
    "methadone",
    "buprenorphine",
    "hydrocortisone",
    "betamethasone",
    "diclofenac",
    "co-codamol",
    "folic",
    "ferrous",
    "colecalciferol",
]
TWO_WORDS = ("para 500", "amox 250", "ibu gel", "morph oral", "omep caps", "salb inh", "metf 500", "co-cod 30")


def queries() -> list[str]:
    out = [drug[:n] for drug in COMMON_DRUGS for n in range(2, 7) if n <= len(drug)]
    return out + list(TWO_WORDS)


def time_calls(calls: list[str], fn: object, repeat: int = 3) -> list[float]:
    samples = []
    for _ in range(repeat):
        for arg in calls:
            start = time.perf_counter()
            fn(arg)  # type: ignore[operator]
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            replica = Path(sys.argv[1])
        else:
            replica = Path(tmp) / "dmd.sqlite"
            build_replica(replica, full_release())
        with Catalogue(replica) as cat:
            qs = queries()
            for q in qs[:20]:
                cat.search(q)  # warm the page cache as a running app has it
            print(f"search ({len(qs)} type-ahead queries x3): {summary(time_calls(qs, cat.search))}")
            print("  e.g. 'para' →", [h.name for h in cat.search("para", limit=3)])
            gtins = [r[0] for r in cat.conn.execute("SELECT gtin FROM gtin ORDER BY random() LIMIT 500")]
            rng = random.Random(1)
            misses = []
            for _ in range(100):  # well-formed barcodes of packs not in the catalogue
                body = "50" + "".join(rng.choice("0123456789") for _ in range(10))
                misses.append(body + str(gtin_check_digit(body)))
            print(f"GTIN lookup (500 hits + 100 misses, x3): {summary(time_calls(gtins + misses, cat.find_gtin))}")


if __name__ == "__main__":
    main()
