"""The shard actor's bookkeeping of a loaded tenant part, without Ray or a database."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from cluster.repositories.memory import MemoryRecord
from deployments.memory.layout import Fingerprint, TenantPart
from deployments.memory.shards import _Part
from memory.shard import MemoryShard

ORG = uuid.UUID(int=7)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _record(memory_id: int, version: int) -> MemoryRecord:
    return MemoryRecord(
        id=memory_id,
        org_id=ORG,
        memory_type="note",
        version=version,
        content=f"memory {memory_id} v{version}",
        metadata={},
        event_at=None,
        created_at=NOW,
        updated_at=NOW,
    )


def test_running_fingerprint_equals_one_computed_from_scratch() -> None:
    # The search path compares this with PostgreSQL's; it must never drift from the records.
    rng = random.Random(5)
    part = _Part(
        part=TenantPart(ORG, 0, 1), shard=cast(MemoryShard, None), directory=Path("unused")
    )
    versions: dict[int, int] = {}
    for _ in range(2_000):
        memory_id = rng.randrange(300)
        if rng.random() < 0.3:
            assert part.drop(memory_id) == (versions.pop(memory_id, None) is not None)
        else:
            versions[memory_id] = versions.get(memory_id, 0) + 1
            part.put(_record(memory_id, versions[memory_id]))
        assert part.fingerprint() == Fingerprint.of(versions)
    assert part.records.keys() == versions.keys()


def test_only_differences_seen_twice_in_a_row_are_confirmed() -> None:
    part = _Part(
        part=TenantPart(ORG, 0, 1), shard=cast(MemoryShard, None), directory=Path("unused")
    )
    # First sighting: possibly a write in flight, nothing to act on yet.
    assert part.confirmed(gone=[1], stale=[2, 3]) == ([], [])
    # 3 was indexed meanwhile, 4 is new in flight: only 1 and 2 persisted.
    assert part.confirmed(gone=[1], stale=[2, 4]) == ([1], [2])
    # A comparison without differences in between starts over.
    part.suspects = set()
    assert part.confirmed(gone=[], stale=[4]) == ([], [])
