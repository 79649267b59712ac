"""Password hashing with Argon2id (argon2-cffi), and the rules a new password must follow."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from opsml_image.auth.errors import AccountError
from opsml_image.rules import string_problem

__all__ = [
    "MIN_LENGTH",
    "MAX_LENGTH",
    "hash_password",
    "rehash",
    "verify_password",
    "needs_rehash",
    "check_new_password",
    "use_hasher",
]

MIN_LENGTH = 8
MAX_LENGTH = 1024

#: argon2-cffi's defaults (RFC 9106 low-memory profile: Argon2id, t=3, m=64 MiB, p=4): ~80 ms a hash.
DEFAULT_HASHER = PasswordHasher()
_hasher = DEFAULT_HASHER
#: Verified when the user does not exist, so an unknown name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("opsml-image: no such user")


def use_hasher(hasher: PasswordHasher) -> None:
    """Replace the hasher (tests use cheap parameters; stored hashes keep their own parameters)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("opsml-image: no such user")


def check_new_password(password: str) -> None:
    """Raise :class:`AccountError` unless ``password`` is 8 to 1024 characters of valid, NUL-free text."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"the password must have at most {MAX_LENGTH} characters")
    problem = string_problem(password, "the password")
    if problem:
        raise AccountError(problem.message.split(" at character")[0])


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password (checked first)."""
    check_new_password(password)
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A hash of a password already accepted once, with the current parameters (no rules checked)."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; a missing hash costs the same time and is False."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than the current hasher's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return False
