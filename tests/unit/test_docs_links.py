"""The documents' relative links resolve: every file a link in README.md or docs/*.md names exists,
and every ``#anchor`` names a heading of the file it points at (GitHub's heading slugs)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Fenced blocks and code spans are text, not links: `[a](b)` in a code span is an example.
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# An inline link or image: [text](target "title"); a reference definition: [label]: target
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, …


def prose(text: str) -> str:
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def links(text: str) -> list[str]:
    body = prose(text)
    return _INLINE.findall(body) + _REFERENCE.findall(body)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in links(document.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (document.parent / unquote(file_part)).resolve() if file_part else document
        if not resolved.exists():
            broken.append(f"{target} (no {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved})")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading #{anchor})")
    return broken


def test_the_link_reader_sees_links_and_not_code() -> None:
    # Given a text with links, an image, a reference definition and links inside code
    text = (
        'See [the API](docs/API.md#errors) and ![a chart](../bench/c.png "title").\n'
        "[ref]: capacity.md\n"
        "`[not](a-link.md)` and\n```\n[nor](this.md)\n```\n"
        "Outside: [site](https://example.org/x)\n"
    )
    # When its links are read
    # Then the links are found, code is not
    assert links(text) == ["docs/API.md#errors", "../bench/c.png", "https://example.org/x", "capacity.md"]


def test_headings_become_github_anchors() -> None:
    assert slug("Stores: one concept each, behind protocols") == "stores-one-concept-each-behind-protocols"
    assert slug("Doses, check-in and closing a day") == "doses-check-in-and-closing-a-day"
    assert slug("Phone verification, receipt codes and lockouts (contract v1.1)") == (
        "phone-verification-receipt-codes-and-lockouts-contract-v11"
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_in_the_documents_resolves(document: Path) -> None:
    # Given a document of the repository
    # When each relative link in it is followed from the document's own folder
    # Then it names a file that exists, and a heading of it when it has an anchor
    assert broken_links(document) == []
