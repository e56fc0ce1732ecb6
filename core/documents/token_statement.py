"""The token statement of an account: opening balance, every ledger entry with its running balance, closing
balance. A4 portrait, as many pages as the period needs, each numbered "Page n of m"."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from core.documents.formatting import format_date, format_datetime
from core.documents.model import TokenStatement, TokenStatementEntry
from core.documents.pdf import BOLD, FONT, markup, new_document, page_numbered_canvas
from core.documents.text import wrap

MARGIN = 15 * mm
CELL_SIZE = 8.5
CELL_LEADING = 10.5
CELL_PADDING = 4
COLUMNS = (
    ("Date and time", 32 * mm),  # "08 Nov 2026 00:00" in DejaVu Sans 8.5 pt, and the cell padding
    ("Type", 22 * mm),
    ("Description", 86 * mm),
    ("Tokens", 20 * mm),
    ("Balance", 20 * mm),
)
TITLE = ParagraphStyle("title", fontName=BOLD, fontSize=16, leading=20)
BODY = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13)
RULE_GREY = colors.Color(0.6, 0.6, 0.6)


def _signed(amount: int) -> str:
    return f"+{amount}" if amount > 0 else str(amount)


def _row(entry: TokenStatementEntry) -> list[object]:
    description_width = COLUMNS[2][1] - 2 * CELL_PADDING
    return [
        format_datetime(entry.at),
        entry.kind.value.capitalize(),
        # Wrapped into plain lines: a Paragraph per cell would make a long statement several times slower.
        "\n".join(wrap(entry.description, FONT, CELL_SIZE, description_width)),
        _signed(entry.amount),
        str(entry.balance),
    ]


def _table(statement: TokenStatement) -> Table:
    period_start = format_date(statement.period_start)
    rows: list[list[object]] = [
        [title for title, _ in COLUMNS],
        [period_start, "", "Opening balance", "", str(statement.opening_balance)],
    ]
    rows += [_row(entry) for entry in statement.entries]
    rows.append([format_date(statement.period_end), "", "Closing balance", "", str(statement.closing_balance)])
    table = Table(rows, colWidths=[width for _, width in COLUMNS], repeatRows=1)
    last = len(rows) - 1
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, CELL_SIZE, CELL_LEADING),
                ("FONT", (0, 0), (-1, 0), BOLD, CELL_SIZE, CELL_LEADING),
                ("FONT", (2, 1), (-1, 1), BOLD, CELL_SIZE, CELL_LEADING),
                ("FONT", (2, last), (-1, last), BOLD, CELL_SIZE, CELL_LEADING),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (3, 0), (4, -1), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, last - 1), 0.3, RULE_GREY),
                ("LINEABOVE", (0, last), (-1, last), 0.8, colors.black),
                ("LINEBELOW", (0, last), (-1, last), 0.8, colors.black),
            ]
        )
    )
    return table


def render_token_statement(statement: TokenStatement) -> bytes:
    """The statement as PDF bytes: A4 portrait, the column headings repeated on every page."""
    out = io.BytesIO()
    period = f"{format_date(statement.period_start)} to {format_date(statement.period_end)}"
    document = new_document(out, A4, f"Token statement: {statement.account_name}, {period}", MARGIN)
    story: list[Flowable] = [
        Paragraph("Token statement", TITLE),
        Paragraph(f"<b>Account:</b> {markup(statement.account_name)}", BODY),
        Paragraph(f"<b>Period:</b> {period}", BODY),
        Paragraph(
            f"<b>Opening balance:</b> {statement.opening_balance} tokens &nbsp; &nbsp; "
            f"<b>Closing balance:</b> {statement.closing_balance} tokens",
            BODY,
        ),
        Spacer(1, 6 * mm),
        _table(statement),
    ]
    footer = f"Token statement: {statement.account_name}, {period}"
    document.build(story, canvasmaker=page_numbered_canvas(footer, MARGIN))
    return out.getvalue()
