"""Password policy and Argon2id hashing for user logins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import argon2
from argon2.exceptions import VerificationError

__all__ = [
    "Argon2Params",
    "PasswordHasher",
    "WeakPasswordError",
    "validate_password_strength",
]

MIN_PASSWORD_LENGTH = 12
# Argon2 would happily hash megabytes; the cap keeps a login request from being a CPU lever.
MAX_PASSWORD_LENGTH = 256


class WeakPasswordError(ValueError):
    """The password fails the strength policy; ``str(err)`` is safe to show to the user."""


def validate_password_strength(password: str) -> None:
    """Raise WeakPasswordError if ``password`` does not meet the minimum policy."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) == 1:
        raise WeakPasswordError("password must not be a single repeated character")
    if password.isdigit():
        raise WeakPasswordError("password must not consist only of digits")


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters; the defaults are RFC 9106's low-memory profile."""

    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4


class PasswordHasher:
    """Argon2id hashing whose verify never raises for bad input, only returns False."""

    def __init__(self, params: Argon2Params = Argon2Params()) -> None:
        self.params = params
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
        )
        # Computed with this instance's parameters so a dummy verification costs exactly
        # what a real one does; a hash made with other parameters would leak via timing.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """Return an encoded Argon2id hash (salt and parameters included)."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True if ``password`` matches; False on mismatch or an unusable stored hash."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, ValueError):
            # ValueError covers InvalidHashError, non-ASCII hashes and unencodable
            # passwords: a corrupt row must fail the login, not turn it into a 500.
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True if the hash was made with other parameters (or is unparseable) and should be
        replaced after the next successful login."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except ValueError:
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification; call it when the login email is unknown so
        response timing does not reveal which accounts exist."""
        self.verify(self._dummy_hash, password)
