"""Encryption at rest and keyed hashes.

Message bodies and phone numbers are stored encrypted with Fernet (MultiFernet,
so that keys can rotate: the first key encrypts, all keys decrypt). Phone numbers
are found by a keyed hash, so the clear number never needs to be stored to be looked up.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import Secret
from bot.errors import HelplineError


class Cipher:
    def __init__(self, data_keys: tuple[Secret, ...], hash_key: Secret) -> None:
        if not data_keys:
            raise HelplineError("at least one data key is needed")
        keys = [Fernet(k.reveal().encode("ascii")) for k in data_keys]
        self._primary = keys[0]
        self._fernet = MultiFernet(keys)
        self._hash_key = hash_key.reveal().encode("utf-8")

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise HelplineError(
                "stored data cannot be decrypted with the configured keys"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt with the primary key (for ``helpline keys rotate``)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise HelplineError(
                "stored data cannot be decrypted with the configured keys"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is already encrypted with the primary (newest) key."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A stable, non-reversible id for ``value``; ``purpose`` keeps uses apart."""
        mac = hmac.new(self._hash_key, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()


_cipher: Cipher | None = None


def configure(cipher: Cipher) -> None:
    """Install the process-wide cipher used by the encrypted column type."""
    global _cipher
    _cipher = cipher


def cipher() -> Cipher:
    if _cipher is None:
        raise HelplineError("encryption is not configured: call bot.crypto.configure first")
    return _cipher
