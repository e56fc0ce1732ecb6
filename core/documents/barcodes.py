"""Code 128 and QR symbols of a prescription id, as ReportLab flowables (drawOn a canvas or flow in a story).

Both carry the id itself (32 lowercase hex characters), so any scanner, 1D or 2D, finds the prescription.
"""

from __future__ import annotations

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCode
from reportlab.platypus import Flowable

from core.documents.model import require_prescription_id

QUIET_ZONE_MODULES = 10  # the Code 128 minimum on each side


def code128_modules(prescription_id: str) -> int:
    """How many modules (narrowest bar widths) the Code 128 bars of this id take, quiet zones excluded."""
    return int(Code128(prescription_id, barWidth=1, quiet=0).width)


def code128(prescription_id: str, module: float, height: float) -> Flowable:
    """A Code 128 symbol with bars ``module`` points wide at the narrowest, and its quiet zones on both sides.

    A 32-hex id takes 365 modules: 0.25 mm (2 dots at 203 dpi) needs 91 mm, which an A5 sheet has and an 80 mm
    roll has not; there 72 mm gives 0.197 mm (7.8 mil), near the smallest that common scanners read.
    """
    require_prescription_id(prescription_id)
    quiet = QUIET_ZONE_MODULES * module
    return Code128(prescription_id, barWidth=module, barHeight=height, quiet=1, lquiet=quiet, rquiet=quiet)


def qr_code(prescription_id: str, size: float) -> Flowable:
    """A square QR symbol of side ``size`` points, its 4-module quiet zone included.

    Level Q (25 % recovery) still fits a 32-character id in version 3 (29 × 29 modules).
    """
    require_prescription_id(prescription_id)
    return QrCode(prescription_id, width=size, height=size, qrLevel="Q", qrBorder=4)
