"""An employer batch cut into chunks, one stored item and one job each (domain.batches.chunked)."""

from __future__ import annotations

from chalicelib.domain.batches import CHUNK_BYTES, CHUNK_ROWS, chunked


def test_rows_are_cut_every_chunk_rows_in_order() -> None:
    # Given small rows, two and a half chunks of them / When cut
    rows = [{"n": n} for n in range(CHUNK_ROWS * 2 + CHUNK_ROWS // 2)]
    chunks = chunked(rows)
    # Then full chunks first, the rest last, every row once and in order
    assert [len(c) for c in chunks] == [CHUNK_ROWS, CHUNK_ROWS, CHUNK_ROWS // 2]
    assert [row for chunk in chunks for row in chunk] == rows


def test_a_chunk_stays_under_the_byte_limit_of_an_item() -> None:
    # Given rows of a third of the byte limit each (Thai text: 3 bytes a character in UTF-8)
    rows = [{"detail": "ก" * (CHUNK_BYTES // 9)} for _ in range(5)]
    # When cut / Then two rows a chunk, whatever the row limit allows
    assert [len(c) for c in chunked(rows)] == [2, 2, 1]


def test_a_row_over_the_byte_limit_is_a_chunk_of_its_own() -> None:
    big = {"detail": "x" * CHUNK_BYTES}
    assert chunked([{"n": 1}, big, {"n": 2}]) == [[{"n": 1}], [big], [{"n": 2}]]
