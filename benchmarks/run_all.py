"""Every benchmark of the replica, in turn: ``make bench``."""

from __future__ import annotations

from benchmarks import bench_import, bench_search


def main() -> None:
    print("== dm+d import ==")
    bench_import.main()
    print("\n== search and barcode lookup ==")
    bench_search.main()


if __name__ == "__main__":
    main()
