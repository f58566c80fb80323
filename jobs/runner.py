"""What every backfill Ray Job does once it has planned its work: run each job row as a Ray
task, at most ``concurrency`` at a time, retry a failed one up to ``retries`` times by putting
its row back in the queue, print a line per finished item and a table at the end.

A job's state lives in its row (``cluster.repositories.jobs``), not here: a task that fails
records why in the row, and a worker that dies leaves the row running, which the runner then
fails with "worker lost" before deciding on a retry. A rerun of the Job skips what has
succeeded, so the Job is resumable at any point.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ray


@dataclass
class Work:
    """One job row to run. ``target`` is what it works on (a dataset, a catalog), ``label``
    its name for people, ``result`` what a success produced (a model id, an audit id)."""

    org_id: uuid.UUID
    target: uuid.UUID
    label: str
    job_id: uuid.UUID | None = None
    status: str = "pending"
    attempts: int = 0
    result: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """How a job's rows are run and read back.

    ``submit`` starts the Ray task for a row; ``succeeded`` reads the task's return value
    (the result to show, or None when the task failed and recorded why); ``fail``, ``error``
    and ``requeue`` act on the row."""

    submit: Callable[[Work], ray.ObjectRef]
    succeeded: Callable[[Work, Any], str | None]
    fail: Callable[[Work, str], Awaitable[None]]
    error: Callable[[Work], Awaitable[str | None]]
    requeue: Callable[[Work], Awaitable[bool]]
    done_status: str  # what a success is called in the output ("fitted", "audited")


async def drive(
    todo: Sequence[Work], lifecycle: Lifecycle, *, concurrency: int, retries: int
) -> None:
    queue = list(todo)
    running: dict[Any, Work] = {}
    finished = 0
    while queue or running:
        while queue and len(running) < max(1, concurrency):
            item = queue.pop(0)
            item.attempts += 1
            item.status = "running"
            running[lifecycle.submit(item)] = item
        ready, _ = await asyncio.to_thread(ray.wait, list(running), num_returns=1, timeout=5.0)
        for ref in ready:
            item = running.pop(ref)
            try:
                item.result = lifecycle.succeeded(item, ray.get(ref))
            except Exception as exc:  # the worker died and Ray's own retries ran out
                item.result, item.error = None, f"worker lost: {exc}"
                await lifecycle.fail(item, item.error)
            if item.result is None:
                item.error = await lifecycle.error(item) or item.error or "failed"
                if item.attempts <= retries and await lifecycle.requeue(item):
                    item.status = "retrying"
                    queue.append(item)
                    continue
                item.status = "failed"
            else:
                item.status, item.error = lifecycle.done_status, None
            finished += 1
            print(
                f"[{finished}/{len(todo)}] {item.status:7} {item.label} ({item.target})"
                + (f": {item.error}" if item.error else ""),
                flush=True,
            )


def print_table(items: Sequence[Work], *, target: str, result: str) -> None:
    print(f"\n{'org':36}  {target:36}  {'status':8}  {'tries':>5}  {result}")
    for item in items:
        print(
            f"{item.org_id!s:36}  {item.target!s:36}  {item.status:8}  "
            f"{item.attempts:>5}  {item.result or ''} {item.error or ''}".rstrip()
        )


def exit_code(items: Sequence[Work]) -> int:
    return 1 if any(i.status == "failed" for i in items) else 0
