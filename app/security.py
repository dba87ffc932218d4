"""Password hashing (argon2id, argon2-cffi's default parameters, which follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
"""The one password policy: the API (`app.schemas.UserIn`) and `iaewatch users add` use it."""


def check_password(password: str) -> str:
    """`password` if the policy accepts it, else `ValueError` saying why."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"the password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted; a different string every call)."""
    if not password:
        raise ValueError("the password is empty")
    return str(_hasher.hash(password))


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches `password_hash`. A malformed hash is a mismatch, not an
    error, so a damaged account row can only fail a login."""
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at login)."""
    try:
        return bool(_hasher.check_needs_rehash(password_hash))
    except (InvalidHashError, ValueError):
        return True
