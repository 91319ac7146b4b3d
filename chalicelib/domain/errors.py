"""Domain errors. Plain exceptions: ``chalicelib/api/errors.py`` maps each to HTTP once."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the service reports to a caller."""


class ValidationFailed(DomainError):
    def __init__(self, fields: list[str]) -> None:
        super().__init__("validation failed")
        self.fields = sorted(set(fields))


class NotEligible(DomainError):
    pass


class AlreadyRegistered(DomainError):
    pass


class RegistrationFull(DomainError):
    pass


class ChannelClosed(DomainError):
    pass


class NotFound(DomainError):
    pass


class IdempotencyKeyReused(DomainError):
    pass


class RequestInProgress(DomainError):
    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("request in progress")
        self.retry_after = retry_after


class Overloaded(DomainError):
    """The data store or a downstream limit refused the work for now; the caller may retry."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("overloaded")
        self.retry_after = retry_after


class Conflict(DomainError):
    """A concurrent change won a conditional write; the operation may be retried as a whole."""
