"""One SMS gateway client per container, from the settings."""

from __future__ import annotations

from functools import lru_cache

from chalicelib.config import get_settings
from chalicelib.notify.sms import SmsClient


def sms() -> SmsClient:
    """The SMS gateway client. Raises RuntimeError if no gateway is configured.

    A deployed stage reads the key from Secrets Manager (cached 5 minutes), so a rotated key is
    picked up without a redeploy; the client, with its connection pool, is kept per key.
    """
    settings = get_settings()
    if not settings.sms_url:
        raise RuntimeError("SMS_GATEWAY_URL is not configured")
    key = settings.sms_api_key
    if settings.sms_api_key_secret:
        from chalicelib.store.secrets import secret

        key = secret(settings.sms_api_key_secret)
    return _client(settings.sms_url, key)


def reset() -> None:
    """Forget the clients (tests and the local stack start new stand-ins)."""
    _client.cache_clear()


@lru_cache(maxsize=4)
def _client(url: str, key: str) -> SmsClient:
    return SmsClient(url, key)
