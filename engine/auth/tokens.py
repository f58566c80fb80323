"""Access tokens (short-lived HS256 JWTs) and opaque secrets (refresh tokens, API keys).

JWTs are signed with one of several named keys; the ``kid`` header selects the key so that
keys can be rotated: sign with the new ``active_kid`` while the old key stays in ``keys``
until every token it signed has expired (at most ``MAX_ACCESS_TTL``).

Refresh tokens and API keys are random 256-bit secrets, not passwords: brute force is
hopeless, so a single SHA-256 is the right storage hash (fast lookups, no Argon2 cost per
request). For API keys the *whole plaintext* (``lft_<key_id>_<secret>``) is hashed, so a
key is checked with ``verify_secret(plaintext, api_key.secret_hash)``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from jwt.types import Options

__all__ = [
    "ALGORITHM",
    "MAX_ACCESS_TTL",
    "AccessClaims",
    "ApiKeySecret",
    "IssuedToken",
    "TokenError",
    "TokenService",
    "hash_secret",
    "new_api_key",
    "new_refresh_token",
    "parse_api_key",
    "verify_secret",
]

ALGORITHM = "HS256"
MAX_ACCESS_TTL = timedelta(minutes=15)
# HS256 keys shorter than the hash output weaken the MAC (RFC 7518 section 3.2).
MIN_KEY_BYTES = 32
# Real tokens are a few hundred bytes; refusing huge input bounds per-request work.
MAX_TOKEN_CHARS = 8192

REFRESH_TOKEN_PREFIX = "lfr_"
API_KEY_PREFIX = "lft_"
API_KEY_MAX_CHARS = 200
API_KEY_DISPLAY_CHARS = 12
_API_KEY_RE = re.compile(r"lft_([0-9a-f]{32})_([A-Za-z0-9_-]+)")

_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "org")

_MESSAGES = {
    "malformed": "token is malformed",
    "unsupported_algorithm": "token algorithm is not supported",
    "unknown_key": "token was signed with an unknown key",
    "invalid_signature": "token signature is invalid",
    "expired": "token has expired",
    "not_yet_valid": "token is not yet valid",
    "invalid_audience": "token audience is invalid",
    "invalid_issuer": "token issuer is invalid",
    "missing_claim": "token is missing a required claim",
    "malformed_api_key": "API key is malformed",
    "invalid_token_type": "token type is not valid here",
}


class TokenError(Exception):
    """A token or key was rejected; ``reason`` is a stable snake_case code for clients/logs."""

    def __init__(self, reason: str, message: str | None = None, *, claim: str | None = None):
        if message is None:
            if claim is not None:
                message = f"token is missing the '{claim}' claim"
            else:
                message = _MESSAGES.get(reason, reason.replace("_", " "))
        super().__init__(message)
        self.reason = reason
        self.claim = claim


@dataclass(frozen=True)
class AccessClaims:
    """The verified contents of an access token."""

    subject: str
    org_id: str
    role: str
    plan: str
    token_id: str
    issued_at: int
    expires_at: int
    principal_type: str = "user"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token; ``expires_at`` is timezone-aware UTC."""

    token: str
    token_id: str
    expires_at: datetime


def _numeric_date(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    # bool is an int subclass; a JSON true is not a timestamp.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError("malformed", f"token '{name}' claim must be a number")
    return int(value)


def _string_claim(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError("missing_claim", claim=name)
    return value


class TokenService:
    """Issues and verifies access tokens against a set of named HS256 keys."""

    def __init__(
        self,
        *,
        keys: Mapping[str, str],
        active_kid: str,
        issuer: str,
        audience: str,
        access_ttl: timedelta = MAX_ACCESS_TTL,
        leeway_seconds: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if active_kid not in keys:
            raise ValueError(f"active_kid {active_kid!r} is not one of the configured keys")
        key_bytes: dict[str, bytes] = {}
        for kid, key in keys.items():
            if not kid:
                raise ValueError("key ids must be non-empty")
            encoded = key.encode("utf-8")
            if len(encoded) < MIN_KEY_BYTES:
                raise ValueError(
                    f"signing key {kid!r} is {len(encoded)} bytes; at least {MIN_KEY_BYTES} "
                    "are required"
                )
            key_bytes[kid] = encoded
        # Whole seconds because exp/iat are integers: a sub-second TTL would mint tokens
        # that are already expired.
        if access_ttl < timedelta(seconds=1):
            raise ValueError("access_ttl must be positive (at least 1 second)")
        if access_ttl > MAX_ACCESS_TTL:
            raise ValueError(f"access_ttl must be at most {MAX_ACCESS_TTL}")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")

        self._keys = key_bytes
        self._active_kid = active_kid
        self._issuer = issuer
        self._audience = audience
        self._ttl_seconds = int(access_ttl.total_seconds())
        self._leeway = leeway_seconds
        self._clock = clock
        # Time claims are checked here against the injectable clock; pyjwt would use its own.
        self._decode_options: Options = {
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "strict_aud": True,
            "require": list(_REQUIRED_CLAIMS),
        }

    @property
    def active_kid(self) -> str:
        """The key id new tokens are signed with."""
        return self._active_kid

    def issue_access_token(self, *, user_id: str, org_id: str, role: str, plan: str) -> IssuedToken:
        """Sign a short-lived access token for a user acting within one org."""
        issued_at = int(self._clock())
        expires_at = issued_at + self._ttl_seconds
        token_id = uuid.uuid4().hex
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user_id,
            "org": org_id,
            "role": role,
            "plan": plan,
            "jti": token_id,
            "iat": issued_at,
            "exp": expires_at,
            "typ": "access",
        }
        token = jwt.encode(
            payload,
            self._keys[self._active_kid],
            algorithm=ALGORITHM,
            headers={"kid": self._active_kid},
        )
        return IssuedToken(
            token=token,
            token_id=token_id,
            expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
        )

    def verify_access_token(self, token: str) -> AccessClaims:
        """Return the claims of a valid access token or raise TokenError with the reason."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenError("malformed") from exc

        # Checked before pyjwt sees the token: the header is attacker-controlled, and an
        # exact match rules out "none", algorithm confusion and unexpected HS variants.
        if header.get("alg") != ALGORITHM:
            raise TokenError("unsupported_algorithm")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("unknown_key")

        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._decode_options,
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError("missing_claim", claim=exc.claim) from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("invalid_signature") from exc
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenError("not_yet_valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenError("invalid_audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenError("invalid_issuer") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise TokenError("unsupported_algorithm") from exc
        except InvalidSubjectError as exc:
            raise TokenError("missing_claim", claim="sub") from exc
        except InvalidJTIError as exc:
            raise TokenError("missing_claim", claim="jti") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError("malformed") from exc

        expires_at = _numeric_date(payload, "exp")
        issued_at = _numeric_date(payload, "iat")
        now = self._clock()
        # Same boundaries as pyjwt: a token is dead at exactly its exp second.
        if expires_at <= now - self._leeway:
            raise TokenError("expired")
        if issued_at > now + self._leeway:
            raise TokenError("not_yet_valid")
        if "nbf" in payload and _numeric_date(payload, "nbf") > now + self._leeway:
            raise TokenError("not_yet_valid")

        if payload.get("typ") != "access":
            raise TokenError("invalid_token_type")

        return AccessClaims(
            subject=_string_claim(payload, "sub"),
            org_id=_string_claim(payload, "org"),
            role=_string_claim(payload, "role"),
            plan=_string_claim(payload, "plan"),
            token_id=_string_claim(payload, "jti"),
            issued_at=issued_at,
            expires_at=expires_at,
            principal_type="user",
        )


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (never use this for passwords)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time check of ``secret`` against a ``hash_secret`` digest."""
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode("utf-8"))


def new_refresh_token() -> tuple[str, str]:
    """Return ``(plaintext, hash)``; only the hash is stored, the plaintext goes to the client."""
    plaintext = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return plaintext, hash_secret(plaintext)


@dataclass(frozen=True)
class ApiKeySecret:
    """A new API key. ``plaintext`` is shown to the user once; store ``secret_hash``
    (the hash of the whole plaintext) and ``display_prefix`` (safe to show later)."""

    key_id: uuid.UUID
    plaintext: str
    secret_hash: str
    display_prefix: str


def new_api_key() -> ApiKeySecret:
    """Mint an API key of the form ``lft_<key_id hex>_<secret>``."""
    key_id = uuid.uuid4()
    plaintext = f"{API_KEY_PREFIX}{key_id.hex}_{secrets.token_urlsafe(32)}"
    return ApiKeySecret(
        key_id=key_id,
        plaintext=plaintext,
        secret_hash=hash_secret(plaintext),
        display_prefix=plaintext[:API_KEY_DISPLAY_CHARS],
    )


def parse_api_key(plaintext: str) -> tuple[uuid.UUID, str]:
    """Split a presented key into ``(key_id, secret part)`` without touching storage.

    The key id finds the stored row; the check itself is
    ``verify_secret(plaintext, row.secret_hash)`` on the whole plaintext.
    """
    if not isinstance(plaintext, str) or len(plaintext) > API_KEY_MAX_CHARS:
        raise TokenError("malformed_api_key")
    match = _API_KEY_RE.fullmatch(plaintext)
    if match is None:
        raise TokenError("malformed_api_key")
    return uuid.UUID(hex=match.group(1)), match.group(2)
