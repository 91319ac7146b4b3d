"""``local.headers``: the local stack's HTTP header parsing gives the message the standard library's
gives, for any header block (the plain ones parsed directly, the rest by the email package)."""

from __future__ import annotations

import email.parser
import http.client
import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from local import headers

PLAIN = [b"Host: 127.0.0.1:8000\r\n", b"Content-Length: 12\r\n", b"X-Empty:\r\n", b"X-Tab:\t a b \r\n", b"\r\n"]
ODD = [
    [b"Host: a\r\n", b" folded\r\n", b"\r\n"],  # a folded line
    [b"From someone\r\n", b"\r\n"],  # a Unix from line
    [b"no colon here\r\n", b"\r\n"],  # not a header: the rest is the body
    [b"X: caf\xc3\xa9\r\n", b"\r\n"],  # beyond ASCII
    [b"X: a\x85b\x0bc\r\n", b"\r\n"],  # what str.splitlines splits
    [b"X: a\rb\r\n", b"\r\n"],  # a bare CR inside
    [b": no name\r\n", b"\r\n"],
    [b"Host: a\n", b"\n"],  # LF only
    [b"Host: a\r\n", b""],  # the connection closed after the headers
    [b""],
]


def _standard(lines: list[bytes]) -> Any:
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))


def _same(ours: Any, theirs: Any) -> bool:
    def state(message: Any) -> dict[str, Any]:
        found = dict(vars(message))
        found["defects"] = [type(d) for d in message.defects]
        found["policy"] = type(message.policy)
        return found

    return type(ours) is type(theirs) and state(ours) == state(theirs)


def test_plain_and_odd_header_blocks_parse_as_the_standard_library_parses_them() -> None:
    for lines in [PLAIN, *ODD]:
        assert _same(headers.parse_lines(list(lines)), _standard(list(lines))), lines


_line = st.one_of(
    st.builds(
        lambda name, value, end: name + b":" + value + end,
        st.binary(min_size=0, max_size=8),
        st.binary(max_size=12),
        st.sampled_from([b"\r\n", b"\n"]),
    ),
    st.sampled_from(PLAIN[:-1]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_line, max_size=6), st.sampled_from([b"\r\n", b"\n", b""]))
def test_any_header_block_parses_as_the_standard_library_parses_it(fields: list[bytes], end: bytes) -> None:
    lines = [f for f in fields if f.count(b"\n") == 1] + [end]
    assert _same(headers.parse_lines(list(lines)), _standard(list(lines)))


def test_installed_it_reads_a_stream_as_http_client_does() -> None:
    raw = b"".join(PLAIN) + b"body"
    headers.install()
    try:
        stream = io.BytesIO(raw)
        message = http.client.parse_headers(stream)
        assert message["content-length"] == "12" and message.get_all("x-tab") == ["a b "]
        assert stream.read() == b"body"  # the body left unread, as the standard function leaves it
    finally:
        headers.uninstall()
    assert http.client.parse_headers is headers._standard
