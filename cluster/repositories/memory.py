"""Storage of the memory module: encrypted memories, their history and each org's data key.

Every function takes the tenant explicitly and runs inside ``Database.tenant``; another org's
memory is simply not found. Content is sealed with the org's data key (see
``cluster/encryption.py``) before it reaches PostgreSQL and opened on the way out, so callers
only ever see plaintext records.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from cluster.encryption import generate_key, seal, unseal, unwrap_data_key, wrap_data_key
from cluster.repositories.billing import Metered, QuotaExceededError
from cluster.state import Database

# Strings are stored as their UTF-8 bytes; anything else as JSON, flagged so it reads back as the
# same JSON value rather than as its text.
MemoryContent = str | dict[str, Any] | list[Any]

# The master key that wraps new data keys; bumped when a rotation re-wraps them.
CURRENT_KEY_VERSION = 1


@dataclass(frozen=True)
class NewMemory:
    memory_type: str
    content: MemoryContent
    metadata: Mapping[str, Any] = field(default_factory=dict)
    event_at: datetime | None = None


@dataclass(frozen=True)
class MemoryRecord:
    id: int
    org_id: uuid.UUID
    memory_type: str
    version: int
    content: MemoryContent
    metadata: dict[str, Any]
    event_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MemoryVersion:
    memory_id: int
    version: int
    content: MemoryContent
    metadata: dict[str, Any]
    created_at: datetime


_RECORD_COLUMNS = (
    "id, org_id, memory_type, version, content_ciphertext, content_nonce, content_is_json, "
    "metadata, event_at, created_at, updated_at"
)


async def data_key(db: Database, *, org_id: uuid.UUID, master_key: bytes) -> bytes:
    """The org's content key, created on first use.

    Two replicas creating it at once both insert with ON CONFLICT DO NOTHING; the loser's insert
    waits for the winner's commit and then reads the winner's key, so an org never has two.
    """
    async with db.tenant(org_id) as conn:
        wrapped: bytes | None = await conn.fetchval(
            "SELECT wrapped_key FROM memory_data_keys WHERE org_id = $1", org_id
        )
        if wrapped is None:
            candidate = wrap_data_key(generate_key(), master_key=master_key, org_id=org_id)
            await conn.execute(
                "INSERT INTO memory_data_keys (org_id, wrapped_key, key_version) "
                "VALUES ($1, $2, $3) ON CONFLICT (org_id) DO NOTHING",
                org_id,
                candidate,
                CURRENT_KEY_VERSION,
            )
            wrapped = await conn.fetchval(
                "SELECT wrapped_key FROM memory_data_keys WHERE org_id = $1", org_id
            )
    assert wrapped is not None, "memory_data_keys row vanished inside its own transaction"
    return unwrap_data_key(wrapped, master_key=master_key, org_id=org_id)


# The ``memory_bytes`` level: what the org's live memories occupy (sealed content, which is
# the plaintext plus a 16-byte tag, and the metadata as text). History and deleted rows are not
# counted.
_STORED_BYTES = (
    "SELECT coalesce(sum(octet_length(content_ciphertext) + octet_length(metadata::text)), 0) "
    "FROM memory_records WHERE org_id = $1 AND deleted_at IS NULL"
)


async def stored_bytes(db: Database, *, org_id: uuid.UUID) -> int:
    """The ``memory_bytes`` meter of the org now."""
    async with db.tenant(org_id) as conn:
        return int(await conn.fetchval(_STORED_BYTES, org_id))


async def _lock_level(conn: asyncpg.Connection, org_id: uuid.UUID, quota: Metered | None) -> int:
    """With a ``memory_bytes`` limit: serialise the org's growing writes (two of them cannot
    both take the last bytes) and return the level before this one."""
    if quota is None or quota.limit is None:
        return 0
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || ':memory_bytes', 0))",
        org_id,
    )
    return int(await conn.fetchval(_STORED_BYTES, org_id))


async def _check_level(
    conn: asyncpg.Connection, org_id: uuid.UUID, quota: Metered | None, before: int
) -> None:
    """Refuse (rolling the write back) what took the level past the quota."""
    if quota is None or quota.limit is None:
        return
    after = int(await conn.fetchval(_STORED_BYTES, org_id))
    if after > before and after > quota.limit + 1e-9:
        raise QuotaExceededError(dataclasses.replace(quota, quantity=after - before), before)


async def store_memories(
    db: Database,
    *,
    org_id: uuid.UUID,
    items: Sequence[NewMemory],
    key: bytes,
    quota: Metered | None = None,
) -> list[MemoryRecord]:
    """Insert ``items`` in one transaction (all or none); records come back in input order.

    ``quota``: the org's ``memory_bytes`` limit; a batch that would take the stored bytes past
    it raises :class:`QuotaExceededError` and stores nothing."""
    if not items:
        return []
    rows_in = []
    for item in items:
        nonce, ciphertext, is_json = _seal_content(item.content, key=key, org_id=org_id)
        rows_in.append(
            (item.memory_type, ciphertext, nonce, is_json, dict(item.metadata), item.event_at)
        )
    async with db.tenant(org_id) as conn:
        before = await _lock_level(conn, org_id, quota)
        # One statement for the batch; WITH ORDINALITY keeps RETURNING in input order.
        rows = await conn.fetch(
            "INSERT INTO memory_records (org_id, memory_type, content_ciphertext, content_nonce, "
            "content_is_json, metadata, event_at) "
            "SELECT $1, t.memory_type, t.ciphertext, t.nonce, t.is_json, t.metadata, t.event_at "
            "FROM unnest($2::text[], $3::bytea[], $4::bytea[], $5::boolean[], $6::jsonb[], "
            "$7::timestamptz[]) WITH ORDINALITY "
            "AS t(memory_type, ciphertext, nonce, is_json, metadata, event_at, ord) "
            f"ORDER BY t.ord RETURNING {_RECORD_COLUMNS}",
            org_id,
            [r[0] for r in rows_in],
            [r[1] for r in rows_in],
            [r[2] for r in rows_in],
            [r[3] for r in rows_in],
            [r[4] for r in rows_in],
            [r[5] for r in rows_in],
        )
        await _check_level(conn, org_id, quota, before)
    records = sorted((_record(r, key=key) for r in rows), key=lambda record: record.id)
    return records


async def get_memory(
    db: Database, *, org_id: uuid.UUID, memory_id: int, key: bytes
) -> MemoryRecord | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_RECORD_COLUMNS} FROM memory_records "
            "WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
            org_id,
            memory_id,
        )
    return _record(row, key=key) if row else None


async def update_memory(
    db: Database,
    *,
    org_id: uuid.UUID,
    memory_id: int,
    key: bytes,
    content: MemoryContent | None = None,
    metadata: Mapping[str, Any] | None = None,
    event_at: datetime | None = None,
    quota: Metered | None = None,
) -> MemoryRecord | None:
    """Replace the given fields as a new version; the previous one moves to the history.

    ``None`` leaves a field as it is. Returns the new record, or ``None`` when there is no live
    memory with this id in this org. ``quota`` as for :func:`store_memories` (an update that
    grows the stored bytes past it is refused).
    """
    async with db.tenant(org_id) as conn:
        before = await _lock_level(conn, org_id, quota)
        # FOR UPDATE: two concurrent updates must not both archive the same version.
        current = await conn.fetchrow(
            "SELECT version, content_ciphertext, content_nonce, content_is_json, metadata, "
            "updated_at FROM memory_records "
            "WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
            org_id,
            memory_id,
        )
        if current is None:
            return None
        await conn.execute(
            "INSERT INTO memory_versions (memory_id, org_id, version, content_ciphertext, "
            "content_nonce, content_is_json, metadata, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            memory_id,
            org_id,
            current["version"],
            current["content_ciphertext"],
            current["content_nonce"],
            current["content_is_json"],
            current["metadata"],
            current["updated_at"],
        )
        if content is None:
            nonce, ciphertext, is_json = (
                current["content_nonce"],
                current["content_ciphertext"],
                current["content_is_json"],
            )
        else:
            nonce, ciphertext, is_json = _seal_content(content, key=key, org_id=org_id)
        row = await conn.fetchrow(
            "UPDATE memory_records SET version = version + 1, content_ciphertext = $3, "
            "content_nonce = $4, content_is_json = $5, metadata = coalesce($6, metadata), "
            "event_at = coalesce($7, event_at), updated_at = now() "
            f"WHERE org_id = $1 AND id = $2 RETURNING {_RECORD_COLUMNS}",
            org_id,
            memory_id,
            ciphertext,
            nonce,
            is_json,
            dict(metadata) if metadata is not None else None,
            event_at,
        )
        await _check_level(conn, org_id, quota, before)
    return _record(row, key=key)


async def delete_memory(db: Database, *, org_id: uuid.UUID, memory_id: int) -> bool:
    """Soft delete; ``True`` if a live memory with this id existed in this org."""
    async with db.tenant(org_id) as conn:
        status: str = await conn.execute(
            "UPDATE memory_records SET deleted_at = now() "
            "WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
            org_id,
            memory_id,
        )
    return status == "UPDATE 1"


async def memory_history(
    db: Database, *, org_id: uuid.UUID, memory_id: int, key: bytes
) -> list[MemoryVersion]:
    """Every version of a live memory, oldest first, the current one last; ``[]`` if none."""
    async with db.tenant(org_id) as conn:
        current = await conn.fetchrow(
            f"SELECT {_RECORD_COLUMNS} FROM memory_records "
            "WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
            org_id,
            memory_id,
        )
        if current is None:
            return []
        earlier = await conn.fetch(
            "SELECT memory_id, version, content_ciphertext, content_nonce, content_is_json, "
            "metadata, created_at FROM memory_versions "
            "WHERE org_id = $1 AND memory_id = $2 ORDER BY version",
            org_id,
            memory_id,
        )
    versions = [
        MemoryVersion(
            memory_id=r["memory_id"],
            version=r["version"],
            content=_open_content(r, key=key, org_id=org_id),
            metadata=r["metadata"],
            created_at=r["created_at"],
        )
        for r in earlier
    ]
    latest = _record(current, key=key)
    versions.append(
        MemoryVersion(
            memory_id=latest.id,
            version=latest.version,
            content=latest.content,
            metadata=latest.metadata,
            created_at=latest.updated_at,
        )
    )
    return versions


async def list_memories(
    db: Database, *, org_id: uuid.UUID, key: bytes, after_id: int | None = None, limit: int = 1000
) -> list[MemoryRecord]:
    """Live memories in id order after ``after_id``: page with the last id to stream them all
    (keyset pagination, so a rebuild neither skips nor repeats rows while others are added)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT {_RECORD_COLUMNS} FROM memory_records "
            "WHERE org_id = $1 AND id > $2 AND deleted_at IS NULL ORDER BY id LIMIT $3",
            org_id,
            after_id if after_id is not None else 0,
            limit,
        )
    return [_record(r, key=key) for r in rows]


async def count_memories(db: Database, *, org_id: uuid.UUID, memory_type: str | None = None) -> int:
    async with db.tenant(org_id) as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM memory_records WHERE org_id = $1 AND deleted_at IS NULL "
            "AND ($2::text IS NULL OR memory_type = $2)",
            org_id,
            memory_type,
        )
    return count


def _seal_content(
    content: MemoryContent, *, key: bytes, org_id: uuid.UUID
) -> tuple[bytes, bytes, bool]:
    if isinstance(content, str):
        nonce, ciphertext = seal(content.encode("utf-8"), key=key, org_id=org_id)
        return nonce, ciphertext, False
    plaintext = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    nonce, ciphertext = seal(plaintext, key=key, org_id=org_id)
    return nonce, ciphertext, True


def _open_content(row: asyncpg.Record, *, key: bytes, org_id: uuid.UUID) -> MemoryContent:
    plaintext = unseal(row["content_nonce"], row["content_ciphertext"], key=key, org_id=org_id)
    text = plaintext.decode("utf-8")
    if row["content_is_json"]:
        value: MemoryContent = json.loads(text)
        return value
    return text


def _record(row: asyncpg.Record, *, key: bytes) -> MemoryRecord:
    org_id: uuid.UUID = row["org_id"]
    return MemoryRecord(
        id=row["id"],
        org_id=org_id,
        memory_type=row["memory_type"],
        version=row["version"],
        content=_open_content(row, key=key, org_id=org_id),
        metadata=row["metadata"],
        event_at=row["event_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# Index bookkeeping: ids and versions of one partition (ids taken modulo ``partitions``) of an
# org's live memories. No content, so no decryption.
_PARTITION = "WHERE org_id = $1 AND deleted_at IS NULL AND id % $2::bigint = $3::bigint"


async def partition_fingerprint(
    db: Database, *, org_id: uuid.UUID, partitions: int, partition: int
) -> tuple[int, int, int]:
    """(count, sum of ids, sum of versions) of the partition's live memories."""
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(id), 0)::text AS ids, "
            f"coalesce(sum(version), 0)::text AS versions FROM memory_records {_PARTITION}",
            org_id,
            partitions,
            partition,
        )
    return int(row["n"]), int(row["ids"]), int(row["versions"])


async def partition_versions(
    db: Database, *, org_id: uuid.UUID, partitions: int, partition: int
) -> dict[int, int]:
    """Id -> version of the partition's live memories."""
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            f"SELECT id, version FROM memory_records {_PARTITION}",
            org_id,
            partitions,
            partition,
        )
    return {int(r["id"]): int(r["version"]) for r in rows}
