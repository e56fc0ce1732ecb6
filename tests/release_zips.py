"""Build release zips in the TRUD layout from the real sample folders in ../shared/dmd-samples/."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLES = SHARED / "dmd-samples"
SAMPLE_2019 = SAMPLES / "release-2019-04-01"
SAMPLE_2021 = SAMPLES / "release-2021-08-26"
SAMPLE_BONUS_ZIP = SAMPLES / "nhsbsa_dmdbonus_12.0.0_20241202000001.zip"

_MAIN_PREFIXES = ("f_vtm2_", "f_vmp2_", "f_vmpp2_", "f_amp2_", "f_ampp2_", "f_ingredient2_", "f_lookup2_")


def _release_date(folder: Path) -> tuple[str, str]:
    """(YYYYMMDD, DDMMYY) from the sample folder's file names."""
    ddmmyy = next(re.search(r"f_vtm2_3(\d{6})", p.name) for p in folder.glob("f_vtm2_*.xml"))
    assert ddmmyy is not None
    d = ddmmyy.group(1)
    return f"20{d[4:6]}{d[2:4]}{d[0:2]}", d


def build_main_zip(
    folder: Path,
    out_dir: Path,
    *,
    version: str = "4.0.1",
    overrides: dict[str, bytes] | None = None,
    omit: tuple[str, ...] = (),
) -> Path:
    """Zip a sample folder as TRUD ships it: seven XML files, XSDs and a nested GTIN zip.

    ``overrides`` replaces the content of a file by prefix (``{"f_vmp2_": b"..."}``); ``omit`` drops files.
    """
    overrides = overrides or {}
    yyyymmdd, ddmmyy = _release_date(folder)
    out = out_dir / f"nhsbsa_dmd_{version}_{yyyymmdd}000001.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            prefix = next((p for p in _MAIN_PREFIXES if path.name.startswith(p)), None)
            if path.suffix == ".xsd" or prefix:
                if prefix in omit:
                    continue
                data = overrides.get(prefix, path.read_bytes()) if prefix else path.read_bytes()
                zf.writestr(path.name, data)
        gtin = next(folder.glob("f_gtin2_*.xml"), None)
        if gtin is not None and "f_gtin2_" not in omit:
            inner = io.BytesIO()
            with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as gz:
                gz.writestr(gtin.name, overrides.get("f_gtin2_", gtin.read_bytes()))
                xsd = folder / "gtin_v2_0.xsd"
                if xsd.exists():
                    gz.writestr(xsd.name, xsd.read_bytes())
            week = f"week{int(ddmmyy[0:2]) // 7 + 1:02d}20{ddmmyy[4:6]}"
            zf.writestr(f"{week}-r2_3-GTIN.zip", inner.getvalue())
    return out


def build_bonus_zip(folder: Path, out_dir: Path) -> Path:
    """A supplementary release zip (nested BNF zip, HISTORIC_CODES/, VTM_INGREDIENTS/) from a sample folder."""
    yyyymmdd, _ddmmyy = _release_date(folder)
    out = out_dir / f"nhsbsa_dmdbonus_4.0.1_{yyyymmdd}000001.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as bz:
            for p in folder.glob("f_bnf1_*.xml"):
                bz.writestr(p.name, p.read_bytes())
        zf.writestr(f"week01{yyyymmdd[:4]}-r2_3-BNF.zip", inner.getvalue())
        for sub in ("HISTORIC_CODES", "VTM_INGREDIENTS"):
            for p in (folder / sub).glob("*.xml"):
                zf.writestr(f"{sub}/{p.name}", p.read_bytes())
    return out
