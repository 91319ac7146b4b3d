"""One client per registry, per container, from the settings."""

from __future__ import annotations

from functools import lru_cache

from chalicelib.config import get_settings
from chalicelib.registries.client import RegistryClient, RegistryConfig


@lru_cache(maxsize=4)
def client(name: str) -> RegistryClient:
    """Raises KeyError for an unknown registry, RuntimeError if it is not configured."""
    all_settings = get_settings()
    settings = all_settings.registries[name]
    if not settings.base_url:
        raise RuntimeError(f"registry {name} has no base URL configured")
    key = settings.api_key
    if settings.api_key_parameter:
        from chalicelib.store.secrets import secure_parameter

        key = secure_parameter(settings.api_key_parameter)
    return RegistryClient(
        RegistryConfig(name=name, base_url=settings.base_url, api_key=key),
        base_delay=all_settings.registry_retry_base_seconds,
    )
