"""Memory storage against the session's PostgreSQL: encrypted at rest, versioned, soft-deleted,
and invisible to other orgs through the repository and through row-level security alike."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from cluster.encryption import DecryptionError, generate_key
from cluster.repositories import memory as repo
from cluster.state import Database
from tests.integration.conftest import Stack, Tenant

pytestmark = pytest.mark.integration

MEMORY_TABLES = ("memory_data_keys", "memory_records", "memory_versions")


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[Database]:
    # The app role's grants are the ones cluster/state.py gives it: nothing granted here.
    database = await Database.connect(stack.urls.database_url, min_size=1, max_size=4)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(scope="module")
def master_key() -> bytes:
    return generate_key()


async def _org_key(db: Database, tenant: Tenant, master_key: bytes) -> tuple[uuid.UUID, bytes]:
    org_id = uuid.UUID(tenant.org_id)
    return org_id, await repo.data_key(db, org_id=org_id, master_key=master_key)


async def test_store_get_list_count_round_trip(
    db: Database, tenant: Tenant, master_key: bytes
) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    event = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    items = [
        repo.NewMemory("fact", "Olive prefers weekly reports", {"source": "chat"}, event),
        repo.NewMemory("preference", {"channel": "email", "tags": ["a", "ü"]}),
        repo.NewMemory("fact", ["list", 1, None]),
    ]
    stored = await repo.store_memories(db, org_id=org_id, items=items, key=key)

    assert [r.content for r in stored] == [i.content for i in items]
    assert [r.memory_type for r in stored] == ["fact", "preference", "fact"]
    assert stored[0].metadata == {"source": "chat"}
    assert stored[1].metadata == {}
    assert stored[0].event_at == event
    assert stored[1].event_at is None
    assert all(r.version == 1 and r.org_id == org_id for r in stored)
    assert stored[0].id < stored[1].id < stored[2].id
    for record in stored:
        assert await repo.get_memory(db, org_id=org_id, memory_id=record.id, key=key) == record

    assert await repo.count_memories(db, org_id=org_id) == 3
    assert await repo.count_memories(db, org_id=org_id, memory_type="fact") == 2
    first_page = await repo.list_memories(db, org_id=org_id, key=key, limit=2)
    rest = await repo.list_memories(db, org_id=org_id, key=key, after_id=first_page[-1].id)
    assert first_page + rest == stored


async def test_empty_batch_stores_nothing(db: Database, tenant: Tenant, master_key: bytes) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    assert await repo.store_memories(db, org_id=org_id, items=[], key=key) == []
    assert await repo.count_memories(db, org_id=org_id) == 0


async def test_content_is_encrypted_in_the_table(
    db: Database, tenant: Tenant, master_key: bytes
) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    secret = "launch budget is 1.2M for Q3"
    [record] = await repo.store_memories(
        db, org_id=org_id, items=[repo.NewMemory("fact", secret)], key=key
    )
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT content_ciphertext, content_nonce, row_to_json(m)::text AS whole "
            "FROM memory_records m WHERE id = $1",
            record.id,
        )
        wrapped = await conn.fetchval(
            "SELECT wrapped_key FROM memory_data_keys WHERE org_id = $1", org_id
        )
    assert secret.encode() not in row["content_ciphertext"]
    assert "launch budget" not in row["whole"]
    assert len(row["content_nonce"]) == 12
    assert key not in wrapped


async def test_data_key_is_created_once_even_under_a_race(
    db: Database, tenant: Tenant, master_key: bytes
) -> None:
    org_id = uuid.UUID(tenant.org_id)
    keys = await asyncio.gather(
        *(repo.data_key(db, org_id=org_id, master_key=master_key) for _ in range(4))
    )
    assert len(set(keys)) == 1
    assert len(keys[0]) == 32
    assert await repo.data_key(db, org_id=org_id, master_key=master_key) == keys[0]
    async with db.tenant(org_id) as conn:
        assert await conn.fetchval("SELECT count(*) FROM memory_data_keys") == 1
    with pytest.raises(DecryptionError, match="wrong master key"):
        await repo.data_key(db, org_id=org_id, master_key=generate_key())


async def test_update_makes_a_new_version_and_keeps_history(
    db: Database, tenant: Tenant, master_key: bytes
) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    [original] = await repo.store_memories(
        db, org_id=org_id, items=[repo.NewMemory("fact", "v1 text", {"n": 1})], key=key
    )
    second = await repo.update_memory(
        db, org_id=org_id, memory_id=original.id, key=key, content={"text": "v2"}
    )
    assert second is not None
    assert (second.id, second.version, second.content) == (original.id, 2, {"text": "v2"})
    assert second.metadata == {"n": 1}
    assert second.created_at == original.created_at
    third = await repo.update_memory(
        db, org_id=org_id, memory_id=original.id, key=key, metadata={"n": 3}
    )
    assert third is not None
    assert (third.version, third.content, third.metadata) == (3, {"text": "v2"}, {"n": 3})
    assert await repo.get_memory(db, org_id=org_id, memory_id=original.id, key=key) == third

    history = await repo.memory_history(db, org_id=org_id, memory_id=original.id, key=key)
    assert [(v.version, v.content, v.metadata) for v in history] == [
        (1, "v1 text", {"n": 1}),
        (2, {"text": "v2"}, {"n": 1}),
        (3, {"text": "v2"}, {"n": 3}),
    ]
    assert history[0].created_at == original.updated_at


async def test_delete_hides_the_memory_everywhere(
    db: Database, tenant: Tenant, master_key: bytes
) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    kept, doomed = await repo.store_memories(
        db,
        org_id=org_id,
        items=[repo.NewMemory("fact", "keep"), repo.NewMemory("fact", "forget")],
        key=key,
    )
    assert await repo.delete_memory(db, org_id=org_id, memory_id=doomed.id) is True
    assert await repo.delete_memory(db, org_id=org_id, memory_id=doomed.id) is False
    assert await repo.get_memory(db, org_id=org_id, memory_id=doomed.id, key=key) is None
    assert await repo.list_memories(db, org_id=org_id, key=key) == [kept]
    assert await repo.count_memories(db, org_id=org_id) == 1
    assert await repo.memory_history(db, org_id=org_id, memory_id=doomed.id, key=key) == []
    updated = await repo.update_memory(
        db, org_id=org_id, memory_id=doomed.id, key=key, content="back?"
    )
    assert updated is None


async def test_other_org_sees_nothing(
    stack: Stack, db: Database, tenant: Tenant, other_tenant: Tenant, master_key: bytes
) -> None:
    org_id, key = await _org_key(db, tenant, master_key)
    rival_id, rival_key = await _org_key(db, other_tenant, master_key)
    assert rival_key != key
    [mine] = await repo.store_memories(
        db, org_id=org_id, items=[repo.NewMemory("fact", "private")], key=key
    )

    # The repository, asked for this id by the wrong org (with either key), finds nothing.
    for probe_key in (rival_key, key):
        assert await repo.get_memory(db, org_id=rival_id, memory_id=mine.id, key=probe_key) is None
        assert (
            await repo.memory_history(db, org_id=rival_id, memory_id=mine.id, key=probe_key) == []
        )
        assert (
            await repo.update_memory(
                db, org_id=rival_id, memory_id=mine.id, key=probe_key, content="hijack"
            )
            is None
        )
    assert await repo.delete_memory(db, org_id=rival_id, memory_id=mine.id) is False
    assert await repo.list_memories(db, org_id=rival_id, key=rival_key) == []
    assert await repo.count_memories(db, org_id=rival_id) == 0
    assert await repo.get_memory(db, org_id=org_id, memory_id=mine.id, key=key) == mine

    # Row-level security on its own, without the repository's WHERE clauses.
    conn = await asyncpg.connect(stack.urls.database_url)
    try:
        for table in MEMORY_TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
        async with conn.transaction():
            await conn.execute("SELECT set_config('liftos.org_id', $1, true)", str(rival_id))
            assert await conn.fetchval("SELECT count(*) FROM memory_records") == 0
            assert await conn.fetchval("SELECT count(*) FROM memory_data_keys") == 1
            updated = await conn.execute("UPDATE memory_records SET deleted_at = now()")
            assert updated == "UPDATE 0"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO memory_records (org_id, memory_type, content_ciphertext, "
                    "content_nonce, content_is_json) VALUES ($1, 'fact', '\\x00', $2, false)",
                    org_id,
                    b"\x00" * 12,
                )
        async with conn.transaction():
            await conn.execute("SELECT set_config('liftos.org_id', $1, true)", str(org_id))
            assert await conn.fetchval("SELECT count(*) FROM memory_records") == 1
        # History is append-only for the app, even within its own org.
        async with conn.transaction():
            await conn.execute("SELECT set_config('liftos.org_id', $1, true)", str(org_id))
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE memory_versions SET metadata = '{}'")
    finally:
        await conn.close()
