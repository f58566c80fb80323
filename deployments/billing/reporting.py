"""Usage to Stripe Billing Meters: each org's summed meters (everything but the
``memory_bytes`` level) reported as the increase since the last report.

Exactly once, whatever fails: the increase is first fixed in PostgreSQL (``pending``), then
sent as one meter event whose identifier names the org, meter, month and the range it covers
(``reported -> pending``), then settled. A reporter that dies after Stripe accepted the event
sends the same snapshot under the same identifier next time, which the meter keeps once; one
that dies before sends it for the first time. The meters must exist in Stripe with the event
names ``liftos_<meter>`` (docs/billing.md).

Each round first flushes the ``api_calls`` counted in Redis to PostgreSQL
(``cluster.usage_counter.flush``, exactly once per count), then reports.

Runs as a Ray task (:func:`report_usage_task`) every ``LIFTOS_BILLING_REPORT_INTERVAL_SECONDS``,
started by whichever gateway replica holds the round's Redis lock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import ray

from cluster import usage_counter
from cluster.repositories import billing as repo
from cluster.settings import Settings, get_settings
from cluster.state import Database, connect_redis
from deployments.billing.service import gateway_of
from deployments.billing.stripe_gateway import StripeGateway, StripeUnavailableError
from deployments.common.runtime import Runtime
from engine.billing.plans import LEVEL_METERS, METERS

log = logging.getLogger(__name__)

REPORTED = tuple(m for m in METERS if m not in LEVEL_METERS)


@dataclass(frozen=True)
class ReportRound:
    orgs: int
    events: int
    failed: int


def identifier(org_id: object, report: repo.PendingReport) -> str:
    return (
        f"liftos-{org_id}-{report.meter}-{report.period_start.isoformat()}-"
        f"{report.reported:.6f}-{report.pending:.6f}"
    )


async def report_once(db: Database, gateway: StripeGateway) -> ReportRound:
    orgs = await repo.orgs_to_report(db)
    events = failed = 0
    for org_id, customer_id in orgs:
        for report in await repo.snapshot_pending(db, org_id=org_id, meters=REPORTED):
            value = report.pending - report.reported
            if value > 0:
                try:
                    await gateway.report_usage(
                        event_name=f"liftos_{report.meter}",
                        customer_id=customer_id,
                        value=value,
                        identifier=identifier(org_id, report),
                    )
                except StripeUnavailableError:
                    log.exception("usage report for %s failed; it is resent next round", org_id)
                    failed += 1
                    continue
                events += 1
            await repo.settle_report(db, org_id=org_id, report=report)
    return ReportRound(len(orgs), events, failed)


async def run(settings: Settings) -> ReportRound:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set in the reporting worker")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    try:
        if settings.redis_url:
            redis = connect_redis(settings.redis_url)
            try:
                flushed = await usage_counter.flush(db, redis)
                log.info("api_calls flushed: %s", flushed)
            finally:
                await redis.aclose()
        else:
            log.warning("REDIS_URL is not set in the reporting worker: api_calls not flushed")
        return await report_once(db, gateway_of(settings))
    finally:
        await db.close()


@ray.remote(num_cpus=0.1, max_retries=2)  # type: ignore[untyped-decorator]  # no stubs
def report_usage_task() -> tuple[int, int, int]:
    done = asyncio.run(run(get_settings()))
    return done.orgs, done.events, done.failed


_LOCK = "liftos:billing:report-round"


async def report_periodically(runtime: Runtime) -> None:
    """Every interval, one replica (the one that takes the round's lock) starts a report."""
    settings = runtime.settings
    interval = settings.billing_report_interval_seconds
    if not settings.billing_enabled or interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        if not await runtime.redis.set(_LOCK, "1", nx=True, px=int(interval * 900)):
            continue  # another replica has this round
        try:
            orgs, events, failed = await report_usage_task.remote()
            log.info("usage reported: %d orgs, %d meter events, %d failed", orgs, events, failed)
        except Exception:
            log.exception("the usage report round failed; the next round resends it")
