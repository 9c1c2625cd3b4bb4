"""API key generation and hashing.

Keys are ``gd_`` followed by 40 URL-safe random characters (240 bits), so a plain SHA-256 is a
safe thing to store: nothing to brute-force, unlike a password, and no per-key salt is needed,
which keeps authentication a single lookup on the unique hash index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "gd_"
KEY_BODY_LENGTH = 40
DISPLAY_PREFIX_LENGTH = 8
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def generate_key() -> str:
    # 30 random bytes are exactly 40 unpadded URL-safe base64 characters.
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BODY_LENGTH * 3 // 4)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def display_prefix(plaintext: str) -> str:
    """The non-secret part kept for listings: the first characters after ``gd_``."""
    return plaintext.removeprefix(KEY_PREFIX)[:DISPLAY_PREFIX_LENGTH]


def hashes_match(stored: str, computed: str) -> bool:
    return hmac.compare_digest(stored.encode("ascii"), computed.encode("ascii"))


def looks_like_key(plaintext: str) -> bool:
    """Cheap shape check, so that garbage headers never reach the database."""
    return (
        len(plaintext) == len(KEY_PREFIX) + KEY_BODY_LENGTH
        and plaintext.startswith(KEY_PREFIX)
        and all(char in _ALPHABET for char in plaintext[len(KEY_PREFIX):])
    )
