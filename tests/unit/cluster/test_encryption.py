"""Envelope encryption: content and data keys open only under the right key, org and record."""

from __future__ import annotations

import base64
import uuid

import pytest

from cluster.encryption import (
    KEY_BYTES,
    NONCE_BYTES,
    DecryptionError,
    InvalidKeyError,
    decode_master_key,
    encode_key,
    generate_key,
    seal,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)

ORG = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER_ORG = uuid.UUID("22222222-2222-4222-8222-222222222222")


@pytest.fixture
def key() -> bytes:
    return generate_key()


def test_seal_round_trip(key: bytes) -> None:
    nonce, ciphertext = seal("café ☕ notes".encode(), key=key, org_id=ORG)
    assert len(nonce) == NONCE_BYTES
    assert b"caf" not in ciphertext
    assert unseal(nonce, ciphertext, key=key, org_id=ORG).decode() == "café ☕ notes"


def test_ciphertext_moved_to_another_org_does_not_decrypt(key: bytes) -> None:
    nonce, ciphertext = seal(b"quarterly plan", key=key, org_id=ORG)
    with pytest.raises(DecryptionError, match=str(OTHER_ORG)):
        unseal(nonce, ciphertext, key=key, org_id=OTHER_ORG)


def test_ciphertext_bound_to_its_record(key: bytes) -> None:
    nonce, ciphertext = seal(b"note", key=key, org_id=ORG, memory_id=7)
    assert unseal(nonce, ciphertext, key=key, org_id=ORG, memory_id=7) == b"note"
    for wrong_id in (8, None):
        with pytest.raises(DecryptionError):
            unseal(nonce, ciphertext, key=key, org_id=ORG, memory_id=wrong_id)


@pytest.mark.parametrize("part", ["ciphertext", "tag", "nonce"])
def test_tampering_is_detected(key: bytes, part: str) -> None:
    nonce, ciphertext = seal(b"the budget is 1M", key=key, org_id=ORG)
    if part == "nonce":
        nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    else:
        index = 0 if part == "ciphertext" else len(ciphertext) - 1
        flipped = bytearray(ciphertext)
        flipped[index] ^= 0x01
        ciphertext = bytes(flipped)
    with pytest.raises(DecryptionError, match="tampered"):
        unseal(nonce, ciphertext, key=key, org_id=ORG)


def test_wrong_key_fails(key: bytes) -> None:
    nonce, ciphertext = seal(b"x", key=key, org_id=ORG)
    with pytest.raises(DecryptionError):
        unseal(nonce, ciphertext, key=generate_key(), org_id=ORG)


def test_nonces_are_unique(key: bytes) -> None:
    sealed = [seal(b"same text", key=key, org_id=ORG) for _ in range(500)]
    assert len({nonce for nonce, _ in sealed}) == 500
    assert len({ciphertext for _, ciphertext in sealed}) == 500


def test_wrapped_key_unwraps_only_with_the_right_master_key_and_org() -> None:
    master, data = generate_key(), generate_key()
    wrapped = wrap_data_key(data, master_key=master, org_id=ORG)
    assert data not in wrapped
    assert unwrap_data_key(wrapped, master_key=master, org_id=ORG) == data
    with pytest.raises(DecryptionError, match="wrong master key"):
        unwrap_data_key(wrapped, master_key=generate_key(), org_id=ORG)
    with pytest.raises(DecryptionError):
        unwrap_data_key(wrapped, master_key=master, org_id=OTHER_ORG)


def test_wrapped_key_cannot_be_opened_as_content() -> None:
    master, data = generate_key(), generate_key()
    wrapped = wrap_data_key(data, master_key=master, org_id=ORG)
    with pytest.raises(DecryptionError):
        unseal(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key=master, org_id=ORG)


def test_master_key_decoding() -> None:
    raw = generate_key()
    assert decode_master_key(encode_key(raw)) == raw
    assert decode_master_key(base64.urlsafe_b64encode(raw).decode()) == raw
    with pytest.raises(InvalidKeyError, match="32 bytes, got 16"):
        decode_master_key(base64.b64encode(b"\x01" * 16).decode())
    with pytest.raises(InvalidKeyError, match="not valid base64"):
        decode_master_key("not base64 at all!")


def test_keys_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(InvalidKeyError, match=f"{KEY_BYTES} bytes"):
        seal(b"x", key=b"short", org_id=ORG)
    with pytest.raises(InvalidKeyError):
        wrap_data_key(generate_key(), master_key=b"short", org_id=ORG)
