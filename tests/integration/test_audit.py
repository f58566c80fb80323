"""The audit log for compliance: reads of sensitive objects are audited like mutations, the
log filters by actor, action, target, result and time, and exports as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.conftest import Tenant
from tests.integration.test_causal import upload, weekly_frame

pytestmark = pytest.mark.integration


def test_sensitive_reads_are_audited_and_the_log_filters_and_exports(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    dataset = upload(client, tenant, weekly_frame(periods=30)).json()
    assert (
        client.get(f"/api/v1/causal/datasets/{dataset['id']}", headers=tenant.auth).status_code
        == 200
    )
    assert client.get("/api/v1/causal/datasets", headers=tenant.auth).status_code == 200
    peek = client.get(f"/api/v1/causal/datasets/{dataset['id']}", headers=other_tenant.auth)
    assert peek.status_code == 404

    reads = client.get("/audit", headers=tenant.auth, params={"action": "GET "}).json()["items"]
    actions = [(e["action"], e["result"]) for e in reads]
    assert ("GET /api/v1/causal/datasets/{dataset_id}", "success") in actions
    assert all(a.startswith("GET ") for a, _ in actions)
    assert ("GET /api/v1/causal/datasets", "success") not in actions  # a listing, not content
    theirs = client.get("/audit", headers=other_tenant.auth, params={"action": "GET "}).json()
    assert [(e["target"], e["result"]) for e in theirs["items"]] == [
        (f"/api/v1/causal/datasets/{dataset['id']}", "denied")
    ]

    by_target = client.get("/audit", headers=tenant.auth, params={"target": dataset["id"]}).json()
    assert {e["action"] for e in by_target["items"]} == {"GET /api/v1/causal/datasets/{dataset_id}"}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/audit", headers=tenant.auth, params={"since": later}).json()["items"] == []
    mine = client.get(
        "/audit", headers=tenant.auth, params={"actor_id": tenant.owner_id, "limit": 1000}
    ).json()["items"]
    assert mine
    assert all(e["actor_id"] == tenant.owner_id for e in mine)

    exported = client.get("/audit/export", headers=tenant.auth, params={"format": "jsonl"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in exported.text.splitlines()]
    everything = client.get("/audit", headers=tenant.auth, params={"limit": 1000}).json()["items"]
    assert [r["id"] for r in rows] == [e["id"] for e in everything]
    as_csv = client.get(
        "/audit/export", headers=tenant.auth, params={"format": "csv", "action": "GET "}
    )
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert table[0].keys() >= {"id", "actor_type", "action", "target", "result", "created_at"}
    assert {row["action"] for row in table} == {a for a, _ in actions}
    bad = client.get("/audit", headers=tenant.auth, params={"result": "maybe"})
    assert bad.status_code == 422
