"""One client per registry, per container, from the settings."""

from __future__ import annotations

from functools import lru_cache

from chalicelib.config import get_settings
from chalicelib.registries.client import RegistryClient, RegistryConfig


def client(name: str) -> RegistryClient:
    """Raises KeyError for an unknown registry, RuntimeError if it is not configured.

    A deployed stage reads the key from Secrets Manager (cached 5 minutes), so a rotated key is
    picked up without a redeploy; the client, with its connection pool, is kept per key.
    """
    settings = get_settings().registries[name]
    if not settings.base_url:
        raise RuntimeError(f"registry {name} has no base URL configured")
    key = settings.api_key
    if settings.api_key_secret:
        from chalicelib.store.secrets import secret

        key = secret(settings.api_key_secret)
    return _client(name, key)


def reset() -> None:
    """Forget the clients (tests and the local stack start new stand-ins)."""
    _client.cache_clear()


@lru_cache(maxsize=8)
def _client(name: str, key: str) -> RegistryClient:
    all_settings = get_settings()
    settings = all_settings.registries[name]
    return RegistryClient(
        RegistryConfig(name=name, base_url=settings.base_url, api_key=key),
        base_delay=all_settings.registry_retry_base_seconds,
    )
