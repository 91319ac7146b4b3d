"""CSV exports that a spreadsheet program opens safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# OWASP "CSV Injection": a cell starting with one of these is read as a formula (=HYPERLINK(...),
# +cmd|..., @SUM(...)) by Excel, LibreOffice and Google Sheets; tab and CR start one after trimming.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as text, with a leading ``'`` when a spreadsheet would read it as a formula.

    The quote makes the cell text and is not shown; every other value is written as it is, so the
    file stays plain CSV for a program (the national ID, a phone or a date never starts with these).
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvSheet:
    """A CSV document (CRLF rows, as RFC 4180 and spreadsheets expect) whose every cell is safe."""

    def __init__(self, bom: bool) -> None:
        self._out = io.StringIO()
        if bom:
            self._out.write("\ufeff")  # spreadsheets then read the file as UTF-8: Thai stays Thai
        self._writer = csv.writer(self._out, lineterminator="\r\n")

    def row(self, cells: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(c) for c in cells])

    def text(self) -> str:
        return self._out.getvalue()
