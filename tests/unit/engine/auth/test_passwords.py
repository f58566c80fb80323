import pytest

from engine.auth.passwords import (
    Argon2Params,
    PasswordHasher,
    WeakPasswordError,
    validate_password_strength,
)

FAST = Argon2Params(time_cost=1, memory_cost_kib=1024, parallelism=1)
GOOD = "correct horse battery"


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(FAST)


def test_defaults_are_rfc9106_low_memory() -> None:
    assert Argon2Params() == Argon2Params(time_cost=3, memory_cost_kib=65536, parallelism=4)


def test_hash_is_argon2id_and_salted(hasher: PasswordHasher) -> None:
    first, second = hasher.hash(GOOD), hasher.hash(GOOD)
    assert first.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in first
    assert first != second


def test_verify_accepts_right_password(hasher: PasswordHasher) -> None:
    assert hasher.verify(hasher.hash(GOOD), GOOD) is True


def test_verify_rejects_wrong_password(hasher: PasswordHasher) -> None:
    assert hasher.verify(hasher.hash(GOOD), GOOD + "x") is False


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not-a-hash",
        "$argon2id$v=19$m=1024,t=1,p=1$garbage",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",
        "$2b$12$abcdefghijklmnopqrstuv",
        "$argon2id$v=19$m=1024,t=1,p=1$é",
    ],
)
def test_verify_returns_false_for_corrupt_hash(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, GOOD) is False


def test_verify_truncated_hash_is_false(hasher: PasswordHasher) -> None:
    stored = hasher.hash(GOOD)
    assert hasher.verify(stored[:-5], GOOD) is False


def test_needs_rehash_when_params_change(hasher: PasswordHasher) -> None:
    stored = hasher.hash(GOOD)
    assert hasher.needs_rehash(stored) is False
    stronger = PasswordHasher(Argon2Params(time_cost=2, memory_cost_kib=1024, parallelism=1))
    assert stronger.needs_rehash(stored) is True
    # The old hash still verifies under new parameters; rehashing happens after login.
    assert stronger.verify(stored, GOOD) is True


def test_needs_rehash_for_corrupt_hash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("garbage") is True


def test_dummy_verify_costs_a_real_verification(hasher: PasswordHasher) -> None:
    hasher.dummy_verify(GOOD)
    assert hasher._dummy_hash.startswith("$argon2id$")
    assert hasher.needs_rehash(hasher._dummy_hash) is False


@pytest.mark.parametrize(
    "password",
    ["a1b2c3d4e5f6", GOOD, "x" * 11 + "y", "😀" * 11 + "a", "z" * 255 + "y"],
)
def test_strong_enough(password: str) -> None:
    validate_password_strength(password)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("", "at least 12"),
        ("short1!", "at least 12"),
        ("a" * 11, "at least 12"),
        ("ab" * 129, "at most 256"),
        ("a" * 12, "single repeated"),
        ("!" * 40, "single repeated"),
        ("123456789012", "only of digits"),
        ("9876543210123", "only of digits"),
    ],
)
def test_weak_passwords(password: str, fragment: str) -> None:
    with pytest.raises(WeakPasswordError, match=fragment):
        validate_password_strength(password)


def test_weak_password_error_is_value_error() -> None:
    assert issubclass(WeakPasswordError, ValueError)
