"""``python -m desktop`` and the entry script of the PyInstaller build (build.spec)."""

import multiprocessing

if __name__ == "__main__":
    # The replica build parses in a second process; a frozen app must let that child run its task, not main().
    multiprocessing.freeze_support()
    from desktop.cli import main

    raise SystemExit(main())
