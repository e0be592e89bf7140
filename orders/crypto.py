"""Encryption of stored secrets with a key list of its own (MultiFernet).

The first key in DFY_ENCRYPTION_KEYS encrypts; every key decrypts, so a new key can be put
first and old ciphertexts stay readable until `manage.py rotate_secrets` re-encrypts them.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The ciphertext matches none of the configured keys."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "DFY_ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes)."
        ) from exc


def _current() -> MultiFernet:
    return _fernet(tuple(settings.DFY_ENCRYPTION_KEYS))


def encrypt(clear: str) -> str:
    return _current().encrypt(clear.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored secret cannot be decrypted with the configured keys"
        ) from exc
