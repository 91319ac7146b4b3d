"""Personal fields encrypted one by one (AES-256-GCM from ``cryptography``) with the data keys of
``store/datakeys.py``.

A sealed field is stored as a binary attribute: a version byte (1), the ``kid`` of its data key
(4 bytes), a random 96-bit nonce, then the ciphertext and its 16-byte tag. The associated data is
that header, the field's owner (the item's stable identity: the person's key for a registration,
wherever the item is kept) and the field's name, so a ciphertext moved to another item or another
field does not open. A field stored before encryption (a string) is read as it is: the attribute's
type tells the two apart. Lookups never need a field opened: they go by keyed hashes.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from chalicelib.store.datakeys import DataKeys

VERSION = 1
_HEADER = struct.Struct(">BI")  # version, kid
NONCE_BYTES = 12


class Fields:
    """Seal and open the personal fields of items with the container's data keys."""

    def __init__(self, keys: DataKeys) -> None:
        self._keys = keys

    def seal(self, owner: str, values: dict[str, str | None]) -> dict[str, bytes | None]:
        """Each value sealed for ``owner`` under its field name (None stays None: nothing stored).
        Raises Overloaded (a data key could not be had: nothing is written)."""
        kid, cipher = self._keys.sealing()
        header = _HEADER.pack(VERSION, kid)
        sealed: dict[str, bytes | None] = {}
        for name, text in values.items():
            if text is None:
                sealed[name] = None
                continue
            nonce = os.urandom(NONCE_BYTES)
            sealed[name] = header + nonce + cipher.encrypt(nonce, text.encode("utf-8"), _bound(header, owner, name))
        return sealed

    def open(self, owner: str, item: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        """``item`` with its fields ``names`` opened (a plain one as stored). Raises Overloaded,
        UnknownDataKey, and cryptography's InvalidTag for a field not sealed for this owner and name."""
        opened = dict(item)
        for name in names:
            raw = getattr(opened.get(name), "value", opened.get(name))
            if isinstance(raw, bytes | bytearray):
                opened[name] = self._open(owner, name, bytes(raw))
        return opened

    def _open(self, owner: str, name: str, raw: bytes) -> str:
        header, rest = raw[: _HEADER.size], raw[_HEADER.size :]
        nonce, body = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
        version, kid = _HEADER.unpack(header)
        if version != VERSION:
            raise ValueError(f"sealed field of unknown version {version}")
        cipher = self._keys.opening(kid)
        return cipher.decrypt(nonce, body, _bound(header, owner, name)).decode("utf-8")


def _bound(header: bytes, owner: str, name: str) -> bytes:
    """The associated data: what a sealed field belongs to (not secret, never stored twice)."""
    return header + b"\x00" + owner.encode("utf-8") + b"\x00" + name.encode("utf-8")
