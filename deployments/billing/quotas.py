"""Plan quotas where the metered actions happen: the usage an action will count, with the
org's quota when billing is on (none when it is off), and the 402 a refused action answers.

Counting and refusing happen in the action's own transaction (``cluster.repositories.billing
.meter``), so a refused action stores nothing and a counted one is counted once.
"""

from __future__ import annotations

import uuid

from cluster.repositories import billing as repo
from deployments.common.errors import quota_exceeded
from deployments.common.runtime import Runtime
from deployments.common.security import org_plan
from engine.billing.plans import upgrade_for


async def current_plan(runtime: Runtime, *, org_id: uuid.UUID) -> str:
    return await org_plan(runtime, org_id) or runtime.settings.default_plan


async def metered(
    runtime: Runtime, *, org_id: uuid.UUID, meter: str, quantity: float
) -> repo.Metered:
    """What an action will count of ``meter``, with the org's monthly quota for it."""
    settings = runtime.settings
    if not settings.billing_enabled:
        return repo.Metered(meter, quantity)
    name = await current_plan(runtime, org_id=org_id)
    plan = settings.billing_plans.get(name)
    if plan is None:
        return repo.Metered(meter, quantity, plan=name)
    limit = plan.quota(meter)
    better = upgrade_for(settings.billing_plans, plan, meter, (limit or 0.0) + quantity)
    return repo.Metered(meter, quantity, limit, plan=name, upgrade=better.name if better else None)


async def check(runtime: Runtime, *, org_id: uuid.UUID, meter: str, requested: float) -> None:
    """Refuse (402) before an action whose cost is known only after it (an LLM call) when the
    month's quota is already used up."""
    usage = await metered(runtime, org_id=org_id, meter=meter, quantity=requested)
    if usage.limit is None:
        return
    used = (await repo.used(runtime.db, org_id=org_id, meters=[meter]))[meter]
    over = used >= usage.limit if requested == 0 else used + requested > usage.limit + 1e-9
    if over:
        raise quota_exceeded(repo.QuotaExceededError(usage, used))
