"""Storage of billing: each org's Stripe account state, processed webhook events, usage.

Tenant-scoped like every repository; the one question asked without a tenant (which org is
this Stripe customer, for a webhook) goes through ``liftos.lookup_billing_customer``.
A webhook's effect and its event id are written in one transaction, so an event is applied
exactly once however often Stripe delivers it. Usage is counted with the action it counts, on
the action's own connection (:func:`meter` takes the connection), so a retried or failed
action is never counted twice or counted without happening.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from cluster.state import Database


@dataclass(frozen=True)
class AccountRow:
    org_id: uuid.UUID
    stripe_customer_id: str | None
    subscription_id: str | None
    subscription_status: str | None
    price_id: str | None
    plan: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_until: datetime | None
    synced_at: int
    updated_at: datetime


_ACCOUNT_COLUMNS = (
    "org_id, stripe_customer_id, subscription_id, subscription_status, price_id, plan, "
    "current_period_end, cancel_at_period_end, grace_until, synced_at, updated_at"
)


async def get_account(db: Database, *, org_id: uuid.UUID) -> AccountRow | None:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            f"SELECT {_ACCOUNT_COLUMNS} FROM billing_accounts WHERE org_id = $1", org_id
        )
    return AccountRow(**dict(row)) if row else None


async def save_customer(db: Database, *, org_id: uuid.UUID, customer_id: str) -> AccountRow:
    async with db.tenant(org_id) as conn:
        row = await conn.fetchrow(
            "INSERT INTO billing_accounts (org_id, stripe_customer_id) VALUES ($1, $2) "
            "ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = "
            "coalesce(billing_accounts.stripe_customer_id, EXCLUDED.stripe_customer_id) "
            f"RETURNING {_ACCOUNT_COLUMNS}",
            org_id,
            customer_id,
        )
    return AccountRow(**dict(row))


async def org_of_customer(db: Database, *, customer_id: str) -> uuid.UUID | None:
    async with db.unscoped() as conn:
        found: uuid.UUID | None = await conn.fetchval(
            "SELECT liftos.lookup_billing_customer($1)", customer_id
        )
    return found


@dataclass(frozen=True)
class SubscriptionChange:
    subscription_id: str
    status: str
    price_id: str | None
    plan: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    grace_until: datetime | None
    version: int


async def apply_event(
    db: Database,
    *,
    org_id: uuid.UUID,
    event_id: str,
    event_type: str,
    created: int,
    change: SubscriptionChange | None,
    audit_action: str | None = None,
) -> bool:
    """Record the event and apply ``change`` (when newer than the stored state) at once;
    False when the event was processed before (nothing changes then). The org's plan follows
    the subscription, with an audit entry when it changes."""
    async with db.tenant(org_id) as conn:
        inserted = await conn.fetchval(
            "INSERT INTO billing_events (event_id, org_id, type, created) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING true",
            event_id,
            org_id,
            event_type,
            created,
        )
        if not inserted:
            return False
        if change is None:
            return True
        await conn.execute(
            "INSERT INTO billing_accounts (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING",
            org_id,
        )
        updated = await conn.fetchrow(
            "UPDATE billing_accounts SET subscription_id = $2, subscription_status = $3, "
            "price_id = $4, plan = $5, current_period_end = $6, cancel_at_period_end = $7, "
            "grace_until = $8, synced_at = $9, updated_at = now() "
            "WHERE org_id = $1 AND synced_at <= $9 RETURNING plan",
            org_id,
            change.subscription_id,
            change.status,
            change.price_id,
            change.plan,
            change.current_period_end,
            change.cancel_at_period_end,
            change.grace_until,
            change.version,
        )
        if updated is None:
            return True  # an older state than the one stored: recorded, not applied
        before = await conn.fetchval("SELECT plan FROM orgs WHERE id = $1", org_id)
        if before != change.plan:
            await conn.execute("UPDATE orgs SET plan = $2 WHERE id = $1", org_id, change.plan)
            await conn.execute(
                "INSERT INTO audit_log (org_id, actor_type, actor_id, action, target, "
                "status_code, result, request_id) "
                "VALUES ($1, 'system', NULL, $2, $3, 200, 'success', $4)",
                org_id,
                audit_action or "billing.plan_changed",
                f"plan {before} -> {change.plan} ({event_type})",
                event_id,
            )
    return True


# --- usage ------------------------------------------------------------------------------------


def current_period(now: datetime | None = None) -> date:
    moment = now or datetime.now(UTC)
    return date(moment.year, moment.month, 1)


@dataclass(frozen=True)
class Metered:
    """``quantity`` of ``meter`` an action uses, and the org's monthly quota (None: none)."""

    meter: str
    quantity: float
    limit: float | None = None
    plan: str = "free"
    upgrade: str | None = None  # the cheapest plan whose quota would admit it


class QuotaExceededError(Exception):
    def __init__(self, metered: Metered, used: float) -> None:
        self.metered = metered
        self.used = used
        super().__init__(
            f"{metered.meter}: the '{metered.plan}' plan allows {metered.limit:g} a month; "
            f"{used:g} used, {metered.quantity:g} more asked"
        )


async def meter(conn: asyncpg.Connection, *, org_id: uuid.UUID, metered: Metered) -> float:
    """Count ``metered`` on the caller's transaction (the action's own, so the count commits
    or rolls back with the action), refusing with :class:`QuotaExceededError` what would pass
    the quota; returns the month's total. The check and the count are one statement, so two
    actions racing for the last unit cannot both get it."""
    period = current_period()
    limit = metered.limit
    if limit is not None and metered.quantity > limit + 1e-9:
        raise QuotaExceededError(metered, used=await _used(conn, metered.meter, period))
    total: float | None = await conn.fetchval(
        "INSERT INTO billing_usage (org_id, meter, period_start, quantity) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, meter, period_start) "
        "DO UPDATE SET quantity = billing_usage.quantity + EXCLUDED.quantity, updated_at = now() "
        "WHERE $5::float8 IS NULL OR billing_usage.quantity + EXCLUDED.quantity <= $5 + 1e-9 "
        "RETURNING quantity",
        org_id,
        metered.meter,
        period,
        metered.quantity,
        limit,
    )
    if total is None:
        raise QuotaExceededError(metered, used=await _used(conn, metered.meter, period))
    return total


async def _used(conn: asyncpg.Connection, meter_name: str, period: date) -> float:
    value = await conn.fetchval(
        "SELECT quantity FROM billing_usage WHERE meter = $1 AND period_start = $2",
        meter_name,
        period,
    )
    return float(value or 0.0)


@dataclass(frozen=True)
class UsageRow:
    meter: str
    period_start: date
    quantity: float
    reported: float


async def usage(db: Database, *, org_id: uuid.UUID, period: date | None = None) -> list[UsageRow]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT meter, period_start, quantity, reported FROM billing_usage "
            "WHERE period_start = $1 ORDER BY meter",
            period or current_period(),
        )
    return [UsageRow(**dict(r)) for r in rows]


async def used(
    db: Database, *, org_id: uuid.UUID, meters: Sequence[str], period: date | None = None
) -> dict[str, float]:
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "SELECT meter, quantity FROM billing_usage WHERE period_start = $1 "
            "AND meter = ANY($2::text[])",
            period or current_period(),
            list(meters),
        )
    found = {r["meter"]: float(r["quantity"]) for r in rows}
    return {m: found.get(m, 0.0) for m in meters}


# --- reporting to Stripe ----------------------------------------------------------------------


async def orgs_to_report(db: Database) -> list[tuple[uuid.UUID, str]]:
    async with db.unscoped() as conn:
        rows = await conn.fetch("SELECT * FROM liftos.billing_orgs_to_report()")
    return [(r["org_id"], r["stripe_customer_id"]) for r in rows]


@dataclass(frozen=True)
class PendingReport:
    meter: str
    period_start: date
    reported: float  # what Stripe had
    pending: float  # what it will have once this report is sent


async def snapshot_pending(
    db: Database, *, org_id: uuid.UUID, meters: Sequence[str]
) -> list[PendingReport]:
    """Fix what each summed meter is about to report (a snapshot already taken is kept, so a
    retried report sends the same numbers)."""
    async with db.tenant(org_id) as conn:
        rows = await conn.fetch(
            "UPDATE billing_usage SET pending = coalesce(pending, quantity) "
            "WHERE (pending IS NOT NULL OR quantity > reported) AND meter = ANY($1::text[]) "
            "RETURNING meter, period_start, reported, pending",
            list(meters),
        )
    return [PendingReport(**dict(r)) for r in rows]


async def settle_report(db: Database, *, org_id: uuid.UUID, report: PendingReport) -> None:
    async with db.tenant(org_id) as conn:
        await conn.execute(
            "UPDATE billing_usage SET reported = $4, pending = NULL "
            "WHERE org_id = $1 AND meter = $2 AND period_start = $3 AND pending = $4",
            org_id,
            report.meter,
            report.period_start,
            report.pending,
        )
