"""Envelope encryption of tenant content at rest (AES-256-GCM).

A master key from settings wraps one random data key per org; the data key seals the content.
Both layers bind their ciphertext to the org through AES-GCM's associated data, so a wrapped key
or a sealed memory copied into another org's rows does not decrypt there. Rotating the master key
only re-wraps the small per-org keys, never the content.
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
# 96-bit random nonces: the size GCM is designed for. One data key seals far fewer than the
# 2**32 messages after which random nonces start to risk a collision.
NONCE_BYTES = 12

# Distinct purposes get distinct associated data, so a wrapped key can never be opened as
# content (or the reverse) even if both were made under the same key.
_WRAP_CONTEXT = b"liftos/memory-data-key/v1"
_SEAL_CONTEXT = b"liftos/memory-content/v1"
# Secrets an org hands LiftOS (LLM provider keys), sealed under the same data key but never
# interchangeable with content: opening one as the other fails authentication.
SECRET_CONTEXT = b"liftos/org-secret/v1"


class EncryptionError(Exception):
    """Base of every error raised here."""


class InvalidKeyError(EncryptionError, ValueError):
    """Key material of the wrong shape (not base64, not 32 bytes)."""


class DecryptionError(EncryptionError):
    """The ciphertext does not authenticate: tampered, from another org, or the wrong key."""


def decode_master_key(encoded: str) -> bytes:
    """The 32-byte master key from its base64 form (standard or URL-safe alphabet)."""
    text = encoded.strip()
    try:
        altchars = b"-_" if "-" in text or "_" in text else None
        raw = base64.b64decode(text.encode("ascii"), altchars=altchars, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidKeyError(f"master key is not valid base64: {exc}") from exc
    _check_key(raw, "master key")
    return raw


def encode_key(key: bytes) -> str:
    """Base64 text of a key, the form the settings take."""
    _check_key(key, "key")
    return base64.b64encode(key).decode("ascii")


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def wrap_data_key(data_key: bytes, *, master_key: bytes, org_id: uuid.UUID) -> bytes:
    """``nonce || ciphertext`` of ``data_key`` under ``master_key``, bound to ``org_id``."""
    _check_key(data_key, "data key")
    _check_key(master_key, "master key")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, _WRAP_CONTEXT + org_id.bytes)


def unwrap_data_key(wrapped: bytes, *, master_key: bytes, org_id: uuid.UUID) -> bytes:
    _check_key(master_key, "master key")
    nonce, ciphertext = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    try:
        data_key = AESGCM(master_key).decrypt(nonce, ciphertext, _WRAP_CONTEXT + org_id.bytes)
    except InvalidTag:
        raise DecryptionError(
            f"the data key of org {org_id} does not unwrap: wrong master key, another org's "
            "key, or a corrupted row"
        ) from None
    _check_key(data_key, "data key")
    return data_key


def seal(
    plaintext: bytes,
    *,
    key: bytes,
    org_id: uuid.UUID,
    memory_id: int | None = None,
    context: bytes = _SEAL_CONTEXT,
) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext``; returns ``(nonce, ciphertext)``.

    ``memory_id``, when given, also binds the ciphertext to that one record; the same value must
    then be passed to :func:`unseal`.
    """
    _check_key(key, "data key")
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, _seal_context(context, org_id, memory_id))


def unseal(
    nonce: bytes,
    ciphertext: bytes,
    *,
    key: bytes,
    org_id: uuid.UUID,
    memory_id: int | None = None,
    context: bytes = _SEAL_CONTEXT,
) -> bytes:
    _check_key(key, "data key")
    if len(nonce) != NONCE_BYTES:
        raise DecryptionError(f"nonce must be {NONCE_BYTES} bytes, got {len(nonce)}")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, _seal_context(context, org_id, memory_id))
    except InvalidTag:
        raise DecryptionError(
            f"content does not decrypt for org {org_id}: tampered, moved from another org or "
            "record, or sealed under another key"
        ) from None


def _seal_context(purpose: bytes, org_id: uuid.UUID, memory_id: int | None) -> bytes:
    context = purpose + org_id.bytes
    if memory_id is not None:
        context += memory_id.to_bytes(8, "big", signed=True)
    return context


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise InvalidKeyError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")
