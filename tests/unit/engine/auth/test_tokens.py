import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from engine.auth.tokens import (
    ALGORITHM,
    MAX_ACCESS_TTL,
    AccessClaims,
    TokenError,
    TokenService,
    hash_secret,
    new_api_key,
    new_refresh_token,
    parse_api_key,
    verify_secret,
)

KEY_1 = "k1-" + "a" * 40
KEY_2 = "k2-" + "b" * 40
ISS = "liftos-test"
AUD = "liftos-api"
T0 = 1_800_000_000


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_service(clock: Callable[[], float], **overrides: Any) -> TokenService:
    kwargs: dict[str, Any] = {
        "keys": {"k1": KEY_1},
        "active_kid": "k1",
        "issuer": ISS,
        "audience": AUD,
        "clock": clock,
    }
    kwargs.update(overrides)
    return TokenService(**kwargs)


@pytest.fixture
def service(clock: Clock) -> TokenService:
    return make_service(clock)


def issue(service: TokenService) -> str:
    return service.issue_access_token(user_id="u-1", org_id="o-1", role="admin", plan="pro").token


def b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "u-1",
        "org": "o-1",
        "role": "viewer",
        "plan": "free",
        "jti": "j-1",
        "iat": T0,
        "exp": T0 + 60,
        "typ": "access",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def signed(payload: dict[str, Any], *, key: str = KEY_1, kid: str | None = "k1") -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm="HS256", headers=headers)


def reason_of(service: TokenService, token: str) -> str:
    with pytest.raises(TokenError) as info:
        service.verify_access_token(token)
    return info.value.reason


def test_round_trip(service: TokenService) -> None:
    issued = service.issue_access_token(user_id="u-1", org_id="o-1", role="admin", plan="pro")
    assert issued.expires_at == datetime.fromtimestamp(T0 + 900, tz=UTC)
    assert issued.expires_at.tzinfo is not None
    assert len(issued.token_id) == 32
    uuid.UUID(hex=issued.token_id)
    assert service.verify_access_token(issued.token) == AccessClaims(
        subject="u-1",
        org_id="o-1",
        role="admin",
        plan="pro",
        token_id=issued.token_id,
        issued_at=T0,
        expires_at=T0 + 900,
        principal_type="user",
    )


def test_header_and_claims_shape(service: TokenService) -> None:
    token = issue(service)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == ALGORITHM == "HS256"
    assert header["kid"] == "k1"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["typ"] == "access"
    assert {"iss", "aud", "sub", "org", "role", "plan", "jti", "iat", "exp"} <= payload.keys()


def test_token_ids_are_unique(service: TokenService) -> None:
    ids = {
        service.issue_access_token(user_id="u", org_id="o", role="viewer", plan="free").token_id
        for _ in range(20)
    }
    assert len(ids) == 20


def test_custom_ttl(clock: Clock) -> None:
    service = make_service(clock, access_ttl=timedelta(minutes=5))
    issued = service.issue_access_token(user_id="u", org_id="o", role="viewer", plan="free")
    assert issued.expires_at == datetime.fromtimestamp(T0 + 300, tz=UTC)


def test_alg_none_is_rejected(service: TokenService) -> None:
    token = b64({"alg": "none", "typ": "JWT", "kid": "k1"}) + "." + b64(claims()) + "."
    assert reason_of(service, token) == "unsupported_algorithm"


def test_alg_none_with_valid_looking_signature_is_rejected(service: TokenService) -> None:
    real = issue(service)
    _, payload, sig = real.split(".")
    forged = b64({"alg": "none", "kid": "k1"}) + "." + payload + "." + sig
    assert reason_of(service, forged) == "unsupported_algorithm"


def test_hs512_is_rejected(service: TokenService) -> None:
    # 64-byte key so pyjwt does not warn about HS512 key length.
    token = jwt.encode(claims(), "c" * 64, algorithm="HS512", headers={"kid": "k1"})
    assert reason_of(service, token) == "unsupported_algorithm"


def test_algorithm_is_checked_before_key_lookup(service: TokenService) -> None:
    token = jwt.encode(claims(), "c" * 64, algorithm="HS512", headers={"kid": "k9"})
    assert reason_of(service, token) == "unsupported_algorithm"


def test_rs256_header_is_rejected(service: TokenService) -> None:
    token = b64({"alg": "RS256", "kid": "k1"}) + "." + b64(claims()) + ".c2ln"
    assert reason_of(service, token) == "unsupported_algorithm"


def test_missing_alg_is_rejected(service: TokenService) -> None:
    token = b64({"kid": "k1"}) + "." + b64(claims()) + ".c2ln"
    assert reason_of(service, token) == "unsupported_algorithm"


def test_unknown_kid(service: TokenService) -> None:
    assert reason_of(service, signed(claims(), kid="k9")) == "unknown_key"


def test_missing_kid(service: TokenService) -> None:
    assert reason_of(service, signed(claims(), kid=None)) == "unknown_key"


def test_tampered_payload(service: TokenService) -> None:
    header, _, sig = issue(service).split(".")
    forged = header + "." + b64(claims(role="owner")) + "." + sig
    assert reason_of(service, forged) == "invalid_signature"


def test_wrong_key_same_kid(service: TokenService) -> None:
    assert reason_of(service, signed(claims(), key="z" * 40)) == "invalid_signature"


def test_wrong_audience(service: TokenService) -> None:
    assert reason_of(service, signed(claims(aud="other-api"))) == "invalid_audience"


def test_audience_list_is_rejected(service: TokenService) -> None:
    assert reason_of(service, signed(claims(aud=[AUD, "other"]))) == "invalid_audience"


def test_wrong_issuer(service: TokenService) -> None:
    assert reason_of(service, signed(claims(iss="evil"))) == "invalid_issuer"


def test_expired_with_injected_clock(service: TokenService, clock: Clock) -> None:
    token = issue(service)
    clock.now = T0 + 899
    assert service.verify_access_token(token).subject == "u-1"
    clock.now = T0 + 900
    assert reason_of(service, token) == "expired"


def test_leeway_extends_expiry(clock: Clock) -> None:
    service = make_service(clock, leeway_seconds=30)
    token = issue(service)
    clock.now = T0 + 929
    service.verify_access_token(token)
    clock.now = T0 + 930
    assert reason_of(service, token) == "expired"


def test_issued_in_future_is_not_yet_valid(service: TokenService) -> None:
    token = signed(claims(iat=T0 + 10, exp=T0 + 100))
    assert reason_of(service, token) == "not_yet_valid"


def test_future_iat_within_leeway_is_accepted(clock: Clock) -> None:
    service = make_service(clock, leeway_seconds=30)
    service.verify_access_token(signed(claims(iat=T0 + 10, exp=T0 + 100)))


def test_nbf_in_future_is_not_yet_valid(service: TokenService) -> None:
    assert reason_of(service, signed(claims(nbf=T0 + 5))) == "not_yet_valid"


@pytest.mark.parametrize("claim", ["org", "sub", "exp", "iat", "iss", "aud"])
def test_missing_required_claim(service: TokenService, claim: str) -> None:
    with pytest.raises(TokenError) as info:
        service.verify_access_token(signed(claims(**{claim: None})))
    assert info.value.reason == "missing_claim"
    assert info.value.claim == claim
    assert f"'{claim}'" in str(info.value)


@pytest.mark.parametrize("claim", ["role", "plan", "jti"])
@pytest.mark.parametrize("value", [None, 7, ["x"]])
def test_string_claims_must_be_strings(service: TokenService, claim: str, value: object) -> None:
    with pytest.raises(TokenError) as info:
        service.verify_access_token(signed(claims(**{claim: value})))
    assert info.value.reason == "missing_claim"
    assert claim in str(info.value)


def test_non_string_org(service: TokenService) -> None:
    assert reason_of(service, signed(claims(org=12))) == "missing_claim"


def test_non_numeric_exp_is_malformed(service: TokenService) -> None:
    assert reason_of(service, signed(claims(exp="soon"))) == "malformed"
    assert reason_of(service, signed(claims(exp=True))) == "malformed"


@pytest.mark.parametrize("typ", ["refresh", "ACCESS", None, 1])
def test_wrong_token_type(service: TokenService, typ: object) -> None:
    assert reason_of(service, signed(claims(typ=typ))) == "invalid_token_type"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c", "....", "x" * 9000, "eyJhbGciOiJIUzI1NiJ9.!!!.sig"],
)
def test_malformed(service: TokenService, token: str) -> None:
    assert reason_of(service, token) == "malformed"


def test_non_object_payload_is_malformed(service: TokenService) -> None:
    token = jwt.api_jws.encode(b"[1,2]", KEY_1, algorithm="HS256", headers={"kid": "k1"})
    assert reason_of(service, token) == "malformed"


def test_key_rotation(clock: Clock) -> None:
    old = make_service(clock)
    old_token = issue(old)

    both = make_service(clock, keys={"k1": KEY_1, "k2": KEY_2}, active_kid="k2")
    new_token = issue(both)
    assert jwt.get_unverified_header(new_token)["kid"] == "k2"
    assert both.verify_access_token(old_token).subject == "u-1"
    assert both.verify_access_token(new_token).subject == "u-1"

    only_new = make_service(clock, keys={"k2": KEY_2}, active_kid="k2")
    assert only_new.verify_access_token(new_token).subject == "u-1"
    assert reason_of(only_new, old_token) == "unknown_key"


def test_token_from_other_issuer_key_does_not_verify(clock: Clock) -> None:
    other = make_service(clock, keys={"k1": KEY_2})
    assert reason_of(make_service(clock), issue(other)) == "invalid_signature"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"active_kid": "k2"}, "active_kid"),
        ({"keys": {"k1": "short"}}, "at least 32"),
        ({"keys": {"k1": KEY_1, "k2": "x" * 31}}, "'k2'"),
        ({"keys": {"k1": KEY_1, "": KEY_2}}, "non-empty"),
        ({"access_ttl": timedelta(minutes=16)}, "at most"),
        ({"access_ttl": timedelta(0)}, "positive"),
        ({"access_ttl": timedelta(seconds=-5)}, "positive"),
        ({"access_ttl": timedelta(milliseconds=500)}, "positive"),
        ({"leeway_seconds": -1}, "leeway"),
        ({"issuer": ""}, "issuer"),
    ],
)
def test_constructor_validation(clock: Clock, overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make_service(clock, **overrides)


def test_key_length_counts_bytes(clock: Clock) -> None:
    make_service(clock, keys={"k1": "é" * 16})
    with pytest.raises(ValueError, match="at least 32"):
        make_service(clock, keys={"k1": "é" * 15})


def test_max_ttl_allowed(clock: Clock) -> None:
    make_service(clock, access_ttl=MAX_ACCESS_TTL)
    assert timedelta(minutes=15) == MAX_ACCESS_TTL


def test_token_error_has_reason_and_message() -> None:
    err = TokenError("expired")
    assert err.reason == "expired"
    assert str(err) == "token has expired"
    assert str(TokenError("malformed", "custom")) == "custom"


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_refresh_token() -> None:
    plaintext, digest = new_refresh_token()
    assert plaintext.startswith("lfr_")
    assert len(plaintext) == 4 + 43
    assert digest == hash_secret(plaintext)
    assert verify_secret(plaintext, digest)
    assert not verify_secret(plaintext + "x", digest)
    assert new_refresh_token()[0] != plaintext


def test_verify_secret_with_garbage_hash() -> None:
    assert not verify_secret("x", "")
    assert not verify_secret("x", "é" * 64)


def test_new_api_key_shape() -> None:
    key = new_api_key()
    assert key.key_id.version == 4
    assert key.plaintext.startswith(f"lft_{key.key_id.hex}_")
    assert key.display_prefix == key.plaintext[:12] == f"lft_{key.key_id.hex[:8]}"
    assert key.secret_hash == hash_secret(key.plaintext)
    assert verify_secret(key.plaintext, key.secret_hash)
    assert new_api_key().plaintext != key.plaintext


def test_parse_api_key_round_trip() -> None:
    for _ in range(50):  # token_urlsafe output may itself contain '_' and '-'
        key = new_api_key()
        key_id, secret = parse_api_key(key.plaintext)
        assert key_id == key.key_id
        assert key.plaintext == f"lft_{key_id.hex}_{secret}"


def test_parse_api_key_secret_may_contain_underscores() -> None:
    key_id = uuid.uuid4()
    assert parse_api_key(f"lft_{key_id.hex}_a_b-c") == (key_id, "a_b-c")


@pytest.mark.parametrize(
    "plaintext",
    [
        "",
        "lft_",
        "lfr_" + "0" * 32 + "_secret",
        "LFT_" + "0" * 32 + "_secret",
        "lft_" + "0" * 32 + "_",
        "lft_" + "0" * 32,
        "lft_" + "0" * 31 + "_secret",
        "lft_" + "0" * 33 + "_secret",
        "lft_" + "g" * 32 + "_secret",
        "lft_" + "A" * 32 + "_secret",
        "lft_" + "0" * 32 + "-secret",
        "lft_" + "0" * 32 + "_sec ret",
        "lft_" + "0" * 32 + "_secret\n",
        "lft_" + "0" * 32 + "_" + "s" * 200,
        " lft_" + "0" * 32 + "_secret",
    ],
)
def test_parse_api_key_malformed(plaintext: str) -> None:
    with pytest.raises(TokenError) as info:
        parse_api_key(plaintext)
    assert info.value.reason == "malformed_api_key"
