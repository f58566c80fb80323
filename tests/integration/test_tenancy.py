"""Tenant isolation: another org's object is a 404 everywhere, and PostgreSQL enforces it too."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from tests.integration.conftest import Stack, Tenant, add_user

pytestmark = pytest.mark.integration


def _external_manifest(name: str) -> dict[str, object]:
    return {"name": name, "version": "1.0.0", "base_url": "http://127.0.0.1:9/unused"}


def test_every_tenant_scoped_route_hides_other_orgs(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    member = add_user(client, tenant, "viewer")
    key = client.post(
        "/auth/api-keys", headers=tenant.auth, json={"name": "k", "role": "viewer"}
    ).json()
    module = client.post(
        "/modules", headers=tenant.auth, json=_external_manifest("ledger-sync")
    ).json()
    assert module["name"] == "ledger-sync"

    intruder = other_tenant.auth
    for method, path in (
        ("GET", f"/auth/users/{member.id}"),
        ("DELETE", f"/auth/users/{member.id}"),
        ("GET", f"/auth/api-keys/{key['id']}"),
        ("DELETE", f"/auth/api-keys/{key['id']}"),
        ("GET", "/modules/ledger-sync"),
        ("DELETE", "/modules/ledger-sync"),
        ("GET", "/api/v1/ledger-sync/anything"),
        ("POST", "/api/v1/ledger-sync/anything"),
    ):
        response = client.request(method, path, headers=intruder)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"

    # Listings only show the caller's own org, and nothing above was changed by the intruder.
    assert {u["id"] for u in client.get("/auth/users", headers=intruder).json()} == {
        other_tenant.owner_id
    }
    assert client.get("/auth/api-keys", headers=intruder).json() == []
    assert client.get("/modules", headers=intruder).json() == {"items": []}
    assert client.get(f"/auth/users/{member.id}", headers=tenant.auth).json()["is_active"]
    assert (
        client.get(f"/auth/api-keys/{key['id']}", headers=tenant.auth).json()["revoked_at"] is None
    )
    assert client.get("/modules/ledger-sync", headers=tenant.auth).status_code == 200


def test_audit_log_is_per_org_and_records_mutations(
    client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.post("/auth/api-keys", headers=tenant.auth, json={"name": "audited", "role": "viewer"})
    client.post("/auth/api-keys", headers=tenant.auth, json={"name": "x", "role": "bogus"})
    entries = client.get("/audit", headers=tenant.auth).json()["items"]
    actions = [(e["action"], e["result"], e["status_code"]) for e in entries]
    assert ("POST /auth/api-keys", "success", 201) in actions
    assert ("POST /auth/api-keys", "denied", 422) in actions
    assert ("POST /auth/signup", "success", 201) in actions
    assert all(e["request_id"] for e in entries)
    assert all(e["actor_id"] == tenant.owner_id for e in entries)
    theirs = client.get("/audit", headers=other_tenant.auth).json()["items"]
    assert {e["request_id"] for e in theirs}.isdisjoint({e["request_id"] for e in entries})


def test_audit_pages(client: httpx.Client, tenant: Tenant) -> None:
    for i in range(3):
        client.post("/auth/api-keys", headers=tenant.auth, json={"name": f"k{i}", "role": "viewer"})
    first = client.get("/audit", headers=tenant.auth, params={"limit": 2}).json()
    assert len(first["items"]) == 2
    second = client.get(
        "/audit", headers=tenant.auth, params={"limit": 2, "before_id": first["next_before_id"]}
    ).json()
    assert second["items"]
    assert max(e["id"] for e in second["items"]) < min(e["id"] for e in first["items"])


async def test_rls_is_enabled_and_forced_on_every_table_with_org_id(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.urls.migration_url)
    try:
        rows = await conn.fetch(
            """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind = 'r' AND n.nspname = 'public' AND EXISTS (
                   SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)"""
        )
    finally:
        await conn.close()
    tables = {r["relname"]: (r["relrowsecurity"], r["relforcerowsecurity"]) for r in rows}
    expected = {"users", "api_keys", "refresh_tokens", "modules", "audit_log"}
    expected |= {"causal_datasets", "causal_jobs", "causal_models", "causal_artifacts"}
    assert expected <= set(tables)
    assert all(flags == (True, True) for flags in tables.values()), tables


async def test_app_role_owns_nothing_and_sees_only_its_tenant(
    stack: Stack, client: httpx.Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    conn = await asyncpg.connect(stack.urls.database_url)
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tableowner = current_user"
        )
        assert owned == 0
        # No tenant set: the application role sees no rows at all.
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
        async with conn.transaction():
            await conn.execute("SELECT set_config('liftos.org_id', $1, true)", tenant.org_id)
            emails = {r["email"] for r in await conn.fetch("SELECT email FROM users")}
            assert emails == {tenant.email}
            # Writing a row into another org is refused by the policy, not just filtered.
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO api_keys (id, org_id, name, role, display_prefix, secret_hash, "
                    "created_by) VALUES ($1, $2, 'x', 'viewer', 'p', 'h', $3)",
                    uuid.uuid4(),
                    uuid.UUID(other_tenant.org_id),
                    uuid.UUID(tenant.owner_id),
                )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log")
    finally:
        await conn.close()


async def test_audit_log_refuses_changes_even_from_the_owner(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.urls.migration_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE audit_log SET action = 'tampered'")
    finally:
        await conn.close()
