"""HTTP headers parsed without the email package, for the local stack's servers and clients.

``http.client.parse_headers`` (which ``http.server`` uses for every request, and ``http.client`` for
every response) reads the header lines, then hands them to ``email.parser``: ~100 µs a request
here, about 4% of ``make run``'s interpreter under the bench. For lines of the plain form
``Name: value`` (printable ASCII, a name of token characters), :func:`parse_headers` builds the same
``HTTPMessage`` directly (each header as the email parser's compat32 policy stores it: the value
from the first non-blank character after the colon, its line ending dropped). Any other header block
(a folded line, a line that is not a header, a byte outside printable ASCII) goes to the standard
function, so its answers and defects stay the standard library's. Only the local stack installs it
(``install``); nothing here is deployed.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any

# A header line the email parser would read as one header: a name of printable characters but the
# colon and the space (its ``headerRE``; so no folded line, which starts with a blank, and no Unix
# "From " line), and a value of printable ASCII or tabs (nothing ``str.splitlines`` would split),
# ended by CRLF or LF.
_PLAIN = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[\x20-\x7e\t]*\r?\n\Z")

_standard = http.client.parse_headers


def parse_headers(fp: Any, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage) -> Any:
    """``http.client.parse_headers``, with the plain header blocks parsed without the email package."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]  # the standard one's reader
    return parse_lines(lines, _class)


def parse_lines(lines: list[bytes], _class: type[http.client.HTTPMessage] = http.client.HTTPMessage) -> Any:
    """The message of header lines as ``_read_headers`` returns them (the blank line, or EOF, last)."""
    *fields, end = lines
    if end in (b"\r\n", b"\n", b"") and all(_PLAIN.match(line) for line in fields):
        message = _class()
        for line in fields:
            name, _, value = line.decode("ascii").partition(":")
            message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
        message.set_payload("")
        return message
    return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))


def install() -> None:
    """Every header block parsed in this process goes through :func:`parse_headers` (``http.server``
    and ``http.client`` both look the function up in ``http.client`` on each call)."""
    http.client.parse_headers = parse_headers  # type: ignore[assignment]


def uninstall() -> None:
    http.client.parse_headers = _standard
