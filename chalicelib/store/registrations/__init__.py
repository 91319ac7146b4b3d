"""Registrations: each person's current registration stored under the person, a superseded one
under its receipt code.

A person's registration lives at ``p#<pointer>`` (128 bits of the keyed hash of the national ID), so
one conditional put is the claim and the registration at once: it fails when the person is
registered, and returns the item found, which answers a repeat or an Idempotency-Key replay without
another read. The receipt code (``registration_id``) carries the pointer and 128 random bits, so it
resolves with one read and is checked in constant time. When a person registers again after a
cancellation, the cancelled registration is first copied under its code (so it still resolves),
then replaced. A counter reclaim gives the person's registration a new code in place; the codes it
had before resolve only for the service's own jobs (``find``: the ticket holder, a removal list, a
promotion target may still name one), never for a request.
Every decision is a conditional single-item write; none depends on a value read before it.

One store, one concept a module: ``keys`` (where an item lives, the indexes), ``codec`` (a
registration as its item), ``base`` (the table and its one conditional write), ``claims`` (the
person's registration), ``lifecycle`` (cancel, promote, release), ``visits`` (appointments),
``removals`` (the removal outbox), ``scans`` (many at a time) and ``erasure`` (the personal fields
removed).
"""

from __future__ import annotations

from chalicelib.store.registrations.claims import Claims
from chalicelib.store.registrations.erasure import Erasure
from chalicelib.store.registrations.lifecycle import Lifecycle
from chalicelib.store.registrations.removals import RemovalOutbox
from chalicelib.store.registrations.scans import Scans
from chalicelib.store.registrations.visits import Visits


class RegistrationStore(Claims, Lifecycle, Visits, RemovalOutbox, Scans, Erasure):
    """The ``Registrations`` protocol on the registrations table (``RegistrationStore(client, name)``)."""


__all__ = ["RegistrationStore"]
