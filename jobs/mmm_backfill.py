"""Fit many datasets in parallel on the cluster: a Ray Job.

    ray job submit --working-dir . -- python -m jobs.mmm_backfill \\
        --org 6f1c... --org 0a9e... [--dataset ID ...] [--request request.json] \\
        [--concurrency 8] [--retries 2]

For each org (tenant) given, every stored dataset (or the ones named) is fitted with the same
analysis request (a JSON file shaped like ``POST /api/v1/causal/attribution/analyze`` without
``dataset_id``; defaults otherwise). A dataset whose content and request were already fitted
(same fingerprint) is skipped, so a rerun picks up where a failed run stopped. Each fit is the
API's own job: visible at ``/api/v1/causal/jobs`` with its progress, stored as a model. Failed
fits are retried up to ``--retries`` times; the run ends with a table and exits non-zero if any
dataset still failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "token")

import ray  # after the auth mode: Ray reads it at import

from cluster import telemetry
from cluster.repositories import billing
from cluster.repositories import causal as repo
from cluster.settings import Settings, get_settings
from cluster.state import Database
from deployments.causal.schemas import AnalyzeRequest
from deployments.causal.tasks import fingerprint, run_analysis_job, task_options
from jobs.runner import Lifecycle, Work, drive, exit_code, print_table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--org", action="append", required=True, type=uuid.UUID, dest="orgs")
    parser.add_argument("--dataset", action="append", type=uuid.UUID, dest="datasets")
    parser.add_argument("--request", type=Path, help="analysis request JSON (no dataset_id)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--retries", type=int, default=2)
    return parser.parse_args(argv)


def load_template(path: Path | None) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text()) if path else {}
    if "dataset_id" in template:
        raise SystemExit("--request must not name a dataset_id: the backfill sets it")
    # Validate once, up front: a bad template should fail the run, not every fit.
    AnalyzeRequest.model_validate({**template, "dataset_id": str(uuid.uuid4())})
    return template


async def plan(
    db: Database, args: argparse.Namespace, template: dict[str, Any]
) -> tuple[list[Work], list[Work]]:
    """Datasets to fit and datasets already fitted with this request."""
    wanted = set(args.datasets or ())
    todo: list[Work] = []
    done: list[Work] = []
    for org_id in args.orgs:
        offset = 0
        while True:
            page = await repo.list_datasets(db, org_id=org_id, limit=500, offset=offset)
            for row in page:
                if wanted and row.id not in wanted:
                    continue
                request = AnalyzeRequest.model_validate({**template, "dataset_id": str(row.id)})
                key = fingerprint(row.content_sha256, request.model_dump(mode="json"))
                existing = await repo.find_model_by_fingerprint(
                    db, org_id=org_id, fingerprint=key, request_type=AnalyzeRequest
                )
                item = Work(org_id, row.id, row.name)
                if existing is not None:
                    item.status, item.result = "skipped", str(existing.id)
                    done.append(item)
                    continue
                job = await repo.create_job(
                    db,
                    org_id=org_id,
                    kind="analyze",
                    dataset_id=row.id,
                    request=request,
                    fingerprint=key,
                    created_by=uuid.UUID(int=0),
                    # An operator's backfill is counted, never refused by the org's quota.
                    metered=[billing.Metered("mmm_fits", 1)],
                )
                item.job_id = job.id
                todo.append(item)
            if len(page) < 500:
                break
            offset += 500
    return todo, done


async def run(args: argparse.Namespace, settings: Settings) -> list[Work]:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (the cluster's environment provides it)")
    template = load_template(args.request)
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    try:
        todo, done = await plan(db, args, template)
        print(f"{len(todo)} datasets to fit, {len(done)} already fitted", flush=True)
        await drive(
            todo, _lifecycle(db, settings), concurrency=args.concurrency, retries=args.retries
        )
        return done + todo
    finally:
        await db.close()


def _lifecycle(db: Database, settings: Settings) -> Lifecycle:
    options = task_options(settings)

    def ids(item: Work) -> dict[str, uuid.UUID]:
        assert item.job_id is not None
        return {"org_id": item.org_id, "job_id": item.job_id}

    async def error(item: Work) -> str | None:
        job = await repo.get_job(db, **ids(item), request_type=AnalyzeRequest)
        return job.error if job else None

    return Lifecycle(
        submit=lambda item: run_analysis_job.options(**options).remote(
            str(item.org_id), str(item.job_id), telemetry.trace_carrier()
        ),
        succeeded=lambda item, value: str(value) if value is not None else None,
        fail=lambda item, message: repo.fail_job(db, **ids(item), error=message),
        error=error,
        requeue=lambda item: repo.requeue_job(db, **ids(item)),
        done_status="fitted",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    ray.init(address=os.environ.get("RAY_ADDRESS") or settings.ray_address or "auto")
    # One trace for the whole job: every task it submits continues it.
    with telemetry.continue_trace("jobs.mmm_backfill", None, settings=settings):
        items = asyncio.run(run(args, settings))
    telemetry.flush()
    print_table(items, target="dataset", result="model")
    return exit_code(items)


if __name__ == "__main__":
    sys.exit(main())
