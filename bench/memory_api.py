"""Universal memory (issue 5) through the service's own HTTP API: LoCoMo recall and speed.

The stack comes up exactly as in ``bench/gateway.py`` (its ``running_stack``: a fresh temporary
state directory with embedded PostgreSQL and Redis, a local Ray cluster, Serve with
``serve_config.yaml``) and is torn down at the end. Everything below goes through
``/api/v1/memory`` with an org owner's JWT, as a client would.

LoCoMo part (default): one org per LoCoMo conversation, signed up through ``/auth/signup``. Its
turns are stored with ``POST /store/batch`` (memory_type ``conversation``, the text
``bench/memory_locomo.py`` builds, metadata speaker / session / dia_id, ``event_at`` = the
session's date), timed client-side (memories/s through HTTP). Every non-adversarial question is
then asked with ``GET /search`` (limit 10) in modes ``dense``, ``keyword`` and ``hybrid`` (the
API's hybrid: dense + keyword + graph + temporal, i.e. ``hybrid+graph`` in ``bench/memory.py``).
The ids the API returned at store time map hits back to dialogue turns, scored with the metric
code of ``bench/memory_locomo.py``. Isolation: every hit must be one of the asking org's stored
ids, and a sample of each org's questions asked with the next org's token must return none of
the first org's ids; the exit code is 1 otherwise.

Data: LoCoMo (Maharana et al., "Evaluating Very Long-Term Conversational Memory of LLM Agents",
ACL 2024, arXiv 2402.17753, github.com/snap-research/LoCoMo, ``data/locomo10.json``), licence
CC BY-NC 4.0 (non-commercial use, attribution required), read from
``/work/shared/data/retrieval/locomo/locomo10.json`` as recorded in
``/work/shared/data/retrieval/SOURCES.md``; it is never copied into this repository.

``--speed``: per ``--sizes`` entry, one new org filled with ``bench/memory.py``'s synthetic
memories through ``POST /store/batch`` (memories/s, real embedding in the shard), then
``--queries`` hybrid searches with distinct queries (cold: each query embedded) and the same
queries again (cached: the shard's query-embedding cache hits), then ``--mixed`` rounds of
storing one memory and searching right after it, then back-to-back searches while a second
client stores ``--concurrent`` more memories into the same org (what a tenant's readers see
during its bulk load), client-side latency p50/p99 in ms; the RSS of the shard actor holding
the org (read inside the actor with psutil) and ``GET /analytics``'s storage numbers.

Run: ``.venv/bin/python bench/memory_api.py`` (LoCoMo) and
``.venv/bin/python bench/memory_api.py --no-locomo --speed --sizes 10000,100000``. The numbers
depend on the machine and its load (client, Ray, PostgreSQL and the shards share its cores);
targets printed are a measurement, not an assertion.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import Credentials, percentile, running_stack, wait_for
from bench.memory import (
    INGEST_TARGET,
    P50_TARGET_MS,
    P99_TARGET_MS,
    _sizes,
    _tenants,
    print_scores,
    synthetic_items,
    synthetic_queries,
)
from bench.memory_locomo import (
    CATEGORIES,
    Conversation,
    Question,
    Scores,
    load_locomo,
    mean_scores,
    question_scores,
)
from memory.shard import MemoryItem

BASE = "/api/v1/memory"
MODES = ("dense", "keyword", "hybrid")
LIMIT = 10
# Long enough for a batch of 1000 to be embedded on a busy 2-core machine, and for the first
# call that starts a shard actor (which exports MiniLM to ONNX into the fresh state dir).
HTTP_TIMEOUT_S = 600.0
# The API's memory types; the engine benchmark's "conversation_turn" is "conversation" here.
API_TYPE = {"conversation_turn": "conversation"}

Log = Callable[[str], None]


@dataclass
class Tenant:
    """An org signed up through the API, its owner's (self-renewing) token, what it stored."""

    label: str
    org_id: uuid.UUID
    credentials: Credentials
    # API id -> the benchmark's own id (LoCoMo: tenant * 10^6 + session * 10^3 + turn).
    stored: dict[int, int] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.bearer()}"}


def sign_up(http: httpx.Client, label: str) -> Tenant:
    """A new org and owner; ``Credentials.signup`` is not reused as it fixes the org name."""
    tag = uuid.uuid4().hex[:10]
    credentials = Credentials(
        gateway_url=str(http.base_url).rstrip("/"),
        email=f"bench-{tag}@liftos-bench.com",
        password=uuid.uuid4().hex + uuid.uuid4().hex,
    )
    response = http.post(
        "/auth/signup",
        json={
            "org_name": f"{label} {tag}",
            "email": credentials.email,
            "password": credentials.password,
            "full_name": "Bench Runner",
        },
    )
    if response.status_code != 201:
        raise RuntimeError(f"signup failed: HTTP {response.status_code} {response.text}")
    body = response.json()
    credentials.access_token = body["tokens"]["access_token"]
    credentials.issued_at = time.monotonic()
    return Tenant(label=label, org_id=uuid.UUID(body["org"]["id"]), credentials=credentials)


class MemoryApiError(RuntimeError):
    """The memory API answered something other than what its documentation promises."""


def store_batch(http: httpx.Client, tenant: Tenant, items: Sequence[dict[str, Any]]) -> list[int]:
    response = http.post(f"{BASE}/store/batch", headers=tenant.headers(), json={"items": items})
    if response.status_code != 201:
        raise MemoryApiError(
            f"POST {BASE}/store/batch ({len(items)} items) for {tenant.label}: "
            f"HTTP {response.status_code} {response.text[:500]}"
        )
    ids: list[int] = response.json()["ids"]
    if len(ids) != len(items):
        raise MemoryApiError(f"store/batch returned {len(ids)} ids for {len(items)} items")
    return ids


def search(
    http: httpx.Client, headers: dict[str, str], query: str, mode: str, limit: int = LIMIT
) -> list[int]:
    response = http.get(
        f"{BASE}/search", headers=headers, params={"query": query, "mode": mode, "limit": limit}
    )
    if response.status_code != 200:
        raise MemoryApiError(
            f"GET {BASE}/search mode={mode} query={query!r}: "
            f"HTTP {response.status_code} {response.text[:500]}"
        )
    body = response.json()
    if body["mode"] != mode:
        raise MemoryApiError(f"asked for mode {mode}, the answer says {body['mode']}")
    return [hit["id"] for hit in body["hits"]]


def ingest(
    http: httpx.Client, tenant: Tenant, items: Sequence[MemoryItem], batch: int, log: Log
) -> float:
    """Store ``items`` through the batch API; returns the client-side seconds spent storing."""
    seconds = 0.0
    for begin in range(0, len(items), batch):
        chunk = items[begin : begin + batch]
        bodies = [
            {
                "memory_type": API_TYPE.get(item.memory_type, item.memory_type),
                "content": item.content,
                "metadata": dict(item.metadata),
                "event_at": item.event_at.isoformat() if item.event_at else None,
            }
            for item in chunk
        ]
        started = time.perf_counter()
        ids = store_batch(http, tenant, bodies)
        seconds += time.perf_counter() - started
        tenant.stored.update(zip(ids, (item.id for item in chunk), strict=True))
        if len(items) > 5 * batch and (begin // batch) % 10 == 9:
            done = begin + len(chunk)
            log(f"  {tenant.label}: {done}/{len(items)} stored ({done / seconds:.0f}/s)")
    return seconds


def warm_up(http: httpx.Client, tenant: Tenant) -> None:
    """One search before any timing: it starts the tenant's shard actor if it is not running
    yet (loading the embedder) and loads the tenant's (empty) part, which a user's first call
    would otherwise pay inside the measured numbers."""
    search(http, tenant.headers(), "warm up", "hybrid")


# -- LoCoMo --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    tenant: int
    category: int
    evidence: frozenset[int]
    ranked: dict[str, list[int]]  # mode -> the benchmark's ids, best first


@dataclass
class Isolation:
    hits_checked: int = 0
    foreign_hits: list[str] = field(default_factory=list)
    cross_queries: int = 0
    cross_leaks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.foreign_hits and not self.cross_leaks


def locomo_items(conversation: Conversation) -> list[MemoryItem]:
    # created_at is the server's own clock through the API; the item's value is never sent.
    return conversation.items(created_at=datetime.now(UTC))


def ask(
    http: httpx.Client,
    tenant: Tenant,
    conversation: Conversation,
    questions: Sequence[Question],
    isolation: Isolation,
) -> list[Asked]:
    asked = []
    headers = tenant.headers()
    for number, question in enumerate(questions):
        if number % 50 == 0:  # the token renews itself; fetching it per question costs nothing
            headers = tenant.headers()
        ranked: dict[str, list[int]] = {}
        for mode in MODES:
            ids = search(http, headers, question.text, mode)
            isolation.hits_checked += len(ids)
            for api_id in ids:
                if api_id not in tenant.stored:
                    isolation.foreign_hits.append(
                        f"{tenant.label} {mode} {question.text!r}: id {api_id} is not its own"
                    )
            ranked[mode] = [tenant.stored[i] for i in ids if i in tenant.stored]
        asked.append(Asked(conversation.tenant, question.category, question.evidence, ranked))
    return asked


def cross_check(
    http: httpx.Client,
    owner: Tenant,
    intruder: Tenant,
    questions: Sequence[Question],
    isolation: Isolation,
) -> None:
    """``owner``'s questions asked with ``intruder``'s token: none of owner's ids may come back
    (and every hit must be the intruder's own)."""
    headers = intruder.headers()
    for question in questions:
        for mode in MODES:
            ids = search(http, headers, question.text, mode)
            isolation.cross_queries += 1
            for api_id in ids:
                if api_id in owner.stored or api_id not in intruder.stored:
                    isolation.cross_leaks.append(
                        f"{owner.label}'s question {question.text!r} with {intruder.label}'s "
                        f"token ({mode}) returned id {api_id}"
                    )


def scores_by_mode(asked: Sequence[Asked]) -> dict[str, Scores]:
    return {
        mode: mean_scores([question_scores(a.ranked[mode], a.evidence) for a in asked])
        for mode in MODES
    }


def print_by_category(asked: Sequence[Asked]) -> None:
    print("\nrecall@10 by LoCoMo category code")
    print("| category | questions | " + " | ".join(MODES) + " |")
    print("| ---: | ---: |" + " ---: |" * len(MODES))
    for category in CATEGORIES:
        scores = scores_by_mode([a for a in asked if a.category == category])
        cells = " | ".join(f"{scores[m].recall_at_10:.3f}" for m in MODES)
        print(f"| {category} | {scores[MODES[0]].questions} | {cells} |")


def run_locomo(http: httpx.Client, args: argparse.Namespace, log: Log) -> bool:
    conversations = [c for c in load_locomo() if c.tenant in args.tenants]
    per_tenant = args.questions_per_tenant
    chosen = {
        c.tenant: c.questions[:per_tenant] if per_tenant else c.questions for c in conversations
    }
    print(
        f"LoCoMo through HTTP: {len(conversations)} orgs, "
        f"{sum(len(c.turns) for c in conversations)} memories, "
        f"{sum(len(q) for q in chosen.values())} questions (category 5 left out; "
        f"{sum(c.unresolved_evidence for c in conversations)} evidence entries name no turn), "
        f"modes {', '.join(MODES)}, limit {LIMIT}, store batches of {args.batch}",
        flush=True,
    )
    tenants = {c.tenant: sign_up(http, f"locomo-{c.tenant}") for c in conversations}
    log("warming up the shards (first use starts the actors and loads the embedder)")
    for tenant in tenants.values():
        warm_up(http, tenant)

    seconds = 0.0
    for conversation in conversations:
        tenant = tenants[conversation.tenant]
        seconds += ingest(http, tenant, locomo_items(conversation), args.batch, log)
        log(f"stored {tenant.label} ({conversation.sample_id}): {len(conversation.turns)} turns")
    memories = sum(len(c.turns) for c in conversations)
    print(
        f"ingestion through POST /store/batch: {memories} memories in {seconds:.1f} s "
        f"({memories / seconds:.0f} memories/s, one client, sequential requests)",
        flush=True,
    )

    isolation = Isolation()
    asked: list[Asked] = []
    started = time.perf_counter()
    for conversation in conversations:
        tenant = tenants[conversation.tenant]
        asked += ask(http, tenant, conversation, chosen[conversation.tenant], isolation)
        log(f"asked {tenant.label}: {len(chosen[conversation.tenant])} questions x {len(MODES)}")
    searches = len(asked) * len(MODES)
    elapsed = time.perf_counter() - started
    print(
        f"searches: {searches} in {elapsed:.1f} s "
        f"({elapsed / max(searches, 1) * 1000:.1f} ms mean, sequential)"
    )
    print_scores("LoCoMo retrieval through GET /search (all selected orgs)", scores_by_mode(asked))
    print_by_category(asked)

    order = [c.tenant for c in conversations]
    if len(order) > 1:
        for position, owner in enumerate(order):
            intruder = order[(position + 1) % len(order)]
            sample = chosen[owner][: args.cross_sample]
            cross_check(http, tenants[owner], tenants[intruder], sample, isolation)
    print(
        f"\nisolation: {len(isolation.foreign_hits)} foreign hits in {isolation.hits_checked} "
        f"hits checked; {len(isolation.cross_leaks)} leaks in {isolation.cross_queries} "
        "searches of another org's questions with the next org's token: "
        + ("PASS" if isolation.ok else "FAIL")
    )
    for line in (isolation.foreign_hits + isolation.cross_leaks)[:10]:
        print(f"  {line}")
    return isolation.ok


# -- speed ---------------------------------------------------------------------------------


def shard_rss_mb() -> dict[int, float]:
    """RSS of every running memory shard actor, measured inside it (psutil on its own pid)."""
    import ray

    from cluster.settings import Settings
    from deployments.memory.layout import NAMESPACE, shard_name

    def own_rss(_actor: Any) -> int:
        import psutil

        return int(psutil.Process().memory_info().rss)

    found: dict[int, float] = {}
    for index in range(Settings().memory_shard_count):
        try:
            actor = ray.get_actor(shard_name(index), namespace=NAMESPACE)
        except ValueError:  # never started: no tenant of this run hashed to it
            continue
        found[index] = ray.get(actor.__ray_call__.remote(own_rss), timeout=60) / 2**20
    return found


def shard_of(tenant: Tenant) -> int:
    from cluster.settings import Settings
    from deployments.memory.layout import shard_index

    return shard_index(tenant.org_id, 0, Settings().memory_shard_count)


def timed_searches(http: httpx.Client, tenant: Tenant, queries: Sequence[str]) -> list[float]:
    samples = []
    headers = tenant.headers()
    for query in queries:
        started = time.perf_counter()
        ids = search(http, headers, query, "hybrid")
        samples.append(time.perf_counter() - started)
        if any(i not in tenant.stored for i in ids):
            raise MemoryApiError(f"{tenant.label}: a hit of {query!r} is not one of its ids")
    return samples


def searches_after_writes(
    http: httpx.Client, tenant: Tenant, items: Sequence[MemoryItem], queries: Sequence[str]
) -> list[float]:
    """One memory stored, then one hybrid search, per item: the search latency of a tenant that
    writes while it reads (each search comes right after a write it must see)."""
    samples = []
    for item, query in zip(items, queries, strict=True):
        ingest(http, tenant, [item], 1, lambda _message: None)
        samples.extend(timed_searches(http, tenant, [query]))
    return samples


def searches_while_storing(
    http: httpx.Client,
    tenant: Tenant,
    items: Sequence[MemoryItem],
    queries: Sequence[str],
    batch: int,
) -> tuple[list[float], float]:
    """Hybrid searches back to back while a second client stores ``items`` into the same org;
    returns the search latencies and the second client's memories/s."""
    stored_seconds: list[float] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def store() -> None:
        try:
            with httpx.Client(base_url=http.base_url, timeout=HTTP_TIMEOUT_S) as writer:
                stored_seconds.append(ingest(writer, tenant, items, batch, lambda _message: None))
        except BaseException as exc:  # re-raised on the main thread below
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=store, name="bench-writer")
    writer.start()
    samples: list[float] = []
    hits: set[int] = set()
    headers = tenant.headers()
    for query in itertools.cycle(queries):
        if done.is_set():
            break
        started = time.perf_counter()
        hits.update(search(http, headers, query, "hybrid"))
        samples.append(time.perf_counter() - started)
    writer.join()
    if failures:
        raise failures[0]
    # Checked once the writer is done: a hit may be a memory whose store call has not returned.
    foreign = hits - tenant.stored.keys()
    if foreign:
        raise MemoryApiError(f"{tenant.label}: hits {sorted(foreign)[:5]} are not its memories")
    return samples, len(items) / stored_seconds[0]


def p50_p99_ms(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return percentile(ordered, 50) * 1000, percentile(ordered, 99) * 1000


def run_speed(http: httpx.Client, args: argparse.Namespace, log: Log) -> None:
    print(
        f"\nspeed through HTTP: one new org per size, synthetic memories (bench/memory.py) stored "
        f"in batches of {args.batch}, {args.queries} hybrid searches (limit {LIMIT}) with "
        "distinct queries, then the same queries again; latency measured by the client",
        flush=True,
    )
    rows = []
    for size in args.sizes:
        tenant = sign_up(http, f"speed-{size}")
        warm_up(http, tenant)
        before = shard_rss_mb()
        log(f"storing {size} memories for {tenant.label} (shard {shard_of(tenant)})")
        seconds = ingest(http, tenant, synthetic_items(size), args.batch, log)
        queries = synthetic_queries(args.queries, seed=size)
        log(f"{size}: {size / seconds:.0f} memories/s; searching")
        cold = p50_p99_ms(timed_searches(http, tenant, queries))
        cached = p50_p99_ms(timed_searches(http, tenant, queries))
        extra = synthetic_items(size + args.mixed + args.concurrent)[size:]
        mixed = p50_p99_ms(
            searches_after_writes(
                http, tenant, extra[: args.mixed], synthetic_queries(args.mixed, seed=size + 1)
            )
        )
        log(f"{size}: searching while another client stores {args.concurrent} memories")
        during_samples, during_rate = searches_while_storing(
            http, tenant, extra[args.mixed :], queries, args.batch
        )
        during = p50_p99_ms(during_samples)
        after = shard_rss_mb()
        response = http.get(f"{BASE}/analytics", headers=tenant.headers())
        if response.status_code != 200:
            raise MemoryApiError(f"GET {BASE}/analytics: HTTP {response.status_code}")
        analytics = response.json()
        expected = size + args.mixed + args.concurrent
        if analytics["memories"] != expected:
            raise MemoryApiError(
                f"analytics counts {analytics['memories']} memories, not {expected}"
            )
        shard = shard_of(tenant)
        rows.append(
            (
                size,
                seconds,
                cold,
                cached,
                mixed,
                (*during, during_rate),
                shard,
                before,
                after,
                analytics,
            )
        )
        log(f"{size}: cold p50 {cold[0]:.1f} ms, cached p50 {cached[0]:.1f} ms")
    print(
        "| memories | ingest/s | p50 ms cold | p99 ms cold | p50 ms cached | p99 ms cached "
        "| p50 ms after a write | p99 ms after a write | p50 ms while storing "
        "| p99 ms while storing | stored/s meanwhile | shard | shard RSS MB | RSS change MB "
        "| dense MB | keyword MB | graph disk MB | total MB | server p50 ms | server p95 ms "
        "| partitions |"
    )
    print("| ---: |" + " ---: |" * 20)
    mib = 2**20
    for size, seconds, cold, cached, mixed, storing, shard, before, after, analytics in rows:
        storage = analytics["storage"]
        print(
            f"| {size} | {size / seconds:.0f} | {cold[0]:.1f} | {cold[1]:.1f} | {cached[0]:.1f} "
            f"| {cached[1]:.1f} | {mixed[0]:.1f} | {mixed[1]:.1f} | {storing[0]:.1f} "
            f"| {storing[1]:.1f} | {storing[2]:.0f} | {shard} "
            f"| {after.get(shard, float('nan')):.0f} "
            f"| {after.get(shard, 0.0) - before.get(shard, 0.0):+.0f} "
            f"| {storage['dense_bytes'] / mib:.1f} | {storage['keyword_bytes'] / mib:.1f} "
            f"| {storage['graph_disk_bytes'] / mib:.1f} | {storage['total_bytes'] / mib:.1f} "
            f"| {analytics['queries']['p50_ms']} | {analytics['queries']['p95_ms']} "
            f"| {analytics['partitions']} |"
        )
    print(
        "server p50/p95: GET /analytics over the org's searches (the replica's own timing, "
        "including the warm-up search); RSS change: the shard actor's RSS after the searches "
        f"minus before the org's ingestion; after a write: {args.mixed} rounds of storing one "
        "memory then searching (the search timed), after the timed searches; while storing: "
        f"back-to-back searches while a second client stores {args.concurrent} memories in "
        f"batches of {args.batch} into the same org"
    )
    print(
        f"targets: p50 <= {P50_TARGET_MS:g} ms, p99 <= {P99_TARGET_MS:g} ms at 100k (via HTTP); "
        f"ingestion >= {INGEST_TARGET:g} memories/s"
    )


# -- main ----------------------------------------------------------------------------------


@contextlib.contextmanager
def memory_api(args: argparse.Namespace, log: Log) -> Iterator[httpx.Client]:
    """The whole local stack from a fresh state dir, and a client of its gateway."""
    state_dir = Path(tempfile.mkdtemp(prefix="liftos-bench-memory-"))
    # As in bench/gateway.py: pgserver's atexit handler re-creates a lock file under the state
    # dir after the `finally` below; registered first, this removal runs after that handler.
    atexit.register(shutil.rmtree, state_dir, ignore_errors=True)
    try:
        # No search or store of this benchmark may be throttled: a burst far above its requests.
        with running_stack(state_dir, rate_burst=10**8, proxy="haproxy", log=log) as stack:
            wait_for(
                f"{stack.gateway_url}{BASE}/search?query=ready",
                expect={401},
                timeout_s=120,
                what="memory module",
            )
            with httpx.Client(base_url=stack.gateway_url, timeout=HTTP_TIMEOUT_S) as http:
                yield http
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
        log("stack stopped")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tenants", type=_tenants, default=list(range(10)), help="e.g. 0-4,7")
    parser.add_argument(
        "--questions-per-tenant", type=int, default=0, help="first N questions per org (0: all)"
    )
    parser.add_argument(
        "--cross-sample", type=int, default=20, help="questions per org asked with another token"
    )
    parser.add_argument("--no-locomo", action="store_true", help="skip the LoCoMo part")
    parser.add_argument("--speed", action="store_true", help="run the speed part")
    parser.add_argument("--sizes", type=_sizes, default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="timed searches per size")
    parser.add_argument("--batch", type=int, default=500, help="memories per store/batch call")
    parser.add_argument(
        "--mixed", type=int, default=50, help="store-one-then-search rounds after the searches"
    )
    parser.add_argument(
        "--concurrent",
        type=int,
        default=5000,
        help="memories a second client stores while searches run, after the mixed rounds",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be 1 to 1000 (the API's limit)")
    if args.questions_per_tenant < 0 or args.cross_sample < 0 or args.queries < 1:
        parser.error("--questions-per-tenant and --cross-sample >= 0, --queries >= 1")
    if args.mixed < 1 or args.concurrent < 1:
        parser.error("--mixed and --concurrent must be at least 1")
    if args.no_locomo and not args.speed:
        parser.error("nothing to do: --no-locomo without --speed")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    isolated = True
    with memory_api(args, log) as http:
        if not args.no_locomo:
            isolated = run_locomo(http, args, log)
        if args.speed:
            run_speed(http, args, log)
    log("done")
    return 0 if isolated else 1


if __name__ == "__main__":
    sys.exit(main())
