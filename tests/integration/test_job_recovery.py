"""A job whose cluster went away (``liftos down`` while it ran) is submitted again when the
module starts in a new cluster session, once, and finishes."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from cluster.repositories import jobs
from cluster.settings import Settings
from deployments.causal.tasks import RayJobRunner
from deployments.common.job_tasks import RECOVERY_KEY, current_session, resubmit_lost
from deployments.common.runtime import Runtime
from tests.integration.conftest import signup
from tests.integration.test_causal_first_user import LONG, QUICK_FIT, first_frame, upload

pytestmark = pytest.mark.integration


def test_a_fit_lost_with_its_cluster_is_submitted_again(client: httpx.Client) -> None:
    tenant = signup(client, prefix="lost")
    dataset = upload(client, tenant, first_frame())
    fitted = client.post(
        "/api/v1/causal/attribution/analyze",
        headers=tenant.auth,
        json={"dataset_id": dataset["id"], "fit": QUICK_FIT, "wait_seconds": 240},
        timeout=LONG,
    )
    assert fitted.status_code == 200, fitted.text
    job_id = uuid.UUID(fitted.json()["job_id"])
    org_id = uuid.UUID(tenant.org_id)

    async def scenario() -> int:
        runtime = await Runtime.start(Settings(), service_name="test-recovery")
        try:
            # As the job stands after `liftos down` took its cluster while it was queued.
            async with runtime.db.tenant(org_id) as conn:
                await conn.execute(
                    "UPDATE causal_jobs SET status = 'queued', stage = 'queued', progress = 0, "
                    "finished_at = NULL, ray_session = 'session_gone', "
                    "created_at = now() - interval '1 hour' WHERE id = $1",
                    job_id,
                )
            session = current_session()
            lost = await jobs.lost(
                runtime.db, jobs.CAUSAL_JOBS, session=session, older_than_seconds=60
            )
            assert (org_id, job_id) in lost
            # This session's causal replica already looked when it started: look again.
            await runtime.redis.delete(RECOVERY_KEY.format(table="causal_jobs", session=session))
            runner = RayJobRunner()

            async def again(org: uuid.UUID, job: uuid.UUID) -> None:
                runner.submit(runtime, org_id=org, job_id=job)

            submitted = await resubmit_lost(runtime, jobs.CAUSAL_JOBS, again)
            # Once per session: a second replica starting now submits nothing.
            assert await resubmit_lost(runtime, jobs.CAUSAL_JOBS, again) == 0
            deadline = time.monotonic() + 30
            while (org_id, job_id) in await jobs.lost(
                runtime.db, jobs.CAUSAL_JOBS, session=session, older_than_seconds=60
            ):
                assert time.monotonic() < deadline, "the new submission's session was not recorded"
                await asyncio.sleep(0.2)
            return submitted
        finally:
            await runtime.close()

    assert asyncio.run(scenario()) >= 1
    deadline = time.monotonic() + 300
    while True:
        job = client.get(f"/api/v1/causal/jobs/{job_id}", headers=tenant.auth).json()
        if job["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(1)
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2
    assert job["model_id"] is not None
