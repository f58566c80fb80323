"""Sandbox agents that live outside the engine: one driven by the org's LLM (through the LLM
module) and one reached over HTTP. Both see, per episode, the observation a marketer would
(see :func:`observation_document`) and answer ``{"spend": {"<channel>": <amount>, ...}}``.

An answer that cannot be read (not JSON, an unknown channel, a negative or non-number amount)
spends nothing that period and is counted per episode as an ``invalid_action`` violation, so
an agent that cannot follow the protocol fails the gate rather than crashing the run.

The environment steps synchronously in a worker thread (``engine.eval.agents.play``); each step
these agents hand every live episode's question to the event loop at once and wait for the
answers, so a step costs one round of concurrent calls, not one call per episode in turn.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray

from deployments.common.errors import ApiError
from deployments.eval.calls import Caller
from engine.eval import suites
from engine.eval.sandbox import BudgetSandbox

PROTOCOL = "liftos.sandbox.v1"
_SYSTEM = (
    "You manage a marketing budget. Each period you set the spend of every channel for the "
    "next period. You see last period's spend, the KPI that followed, what the ad platforms "
    "reported (platforms over-report), the budget left, the caps and the blacked-out channels. "
    "Maximise total profit (KPI value minus spend) over the episode without breaking a limit."
)
_PROMPT = (
    _SYSTEM
    + "\n\n{% if instructions %}Strategy: {{ instructions }}\n\n{% endif %}"
    + "Observation (JSON):\n{{ observation }}\n\n"
    + 'Answer with JSON only: {"spend": {"<channel>": <amount>, ...}} covering every channel.'
)


def observation_document(
    observation: Mapping[str, Any], sandbox: BudgetSandbox, env: int
) -> dict[str, Any]:
    """What one episode's agent is told this period (the HTTP protocol's ``observation``)."""
    channels = sandbox.world.channels
    kpi = float(observation["kpi"][env])
    return {
        "protocol": PROTOCOL,
        "period": int(observation["period"][env]),
        "periods": sandbox.periods,
        "channels": list(channels),
        "last_spend": {c: float(observation["spend"][env, i]) for i, c in enumerate(channels)},
        "kpi": None if math.isnan(kpi) else kpi,
        "reported_conversions": {
            c: float(observation["reported"][env, i]) for i, c in enumerate(channels)
        },
        "remaining_budget": float(observation["remaining_budget"][env]),
        "caps": {
            c: float(sandbox.caps[i])
            for i, c in enumerate(channels)
            if math.isfinite(sandbox.caps[i])
        },
        "blackout": [c for i, c in enumerate(channels) if sandbox.blackout_mask[i]],
        "max_change": sandbox.constraints.max_change,
        "kpi_value": sandbox.kpi_value,
    }


def _first_object(text: str) -> Any:
    """The first JSON value that parses starting at a "{" (the answer may sit in prose)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            return decoder.raw_decode(text, start)[0]
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
    return None


def parse_action(text: str, channels: tuple[str, ...]) -> NDArray[np.float64] | None:
    """The spend an answer asks for, or None when it cannot be read."""
    data = _first_object(text)
    spend = data.get("spend") if isinstance(data, dict) else None
    if not isinstance(spend, dict) or not set(spend) <= set(channels):
        return None
    values = []
    for channel in channels:
        amount = spend.get(channel, 0.0)
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        try:
            value = float(amount)
        except OverflowError:
            return None
        if not math.isfinite(value) or value < 0:
            return None
        values.append(value)
    return np.asarray(values)


Ask = Callable[[int, dict[str, Any]], Awaitable[str]]


class _Remote:
    """An agent whose every episode is answered by a coroutine run on ``loop``."""

    def __init__(
        self, name: str, ask: Ask, loop: asyncio.AbstractEventLoop, *, timeout_s: float
    ) -> None:
        self.name = name
        self._ask = ask
        self._loop = loop
        self._timeout_s = timeout_s
        self.invalid: NDArray[np.int64] | None = None
        self.errors: list[str] = []

    async def _all(self, documents: Mapping[int, dict[str, Any]]) -> dict[int, str | None]:
        async def one(env: int, document: dict[str, Any]) -> str | None:
            try:
                return await asyncio.wait_for(self._ask(env, document), self._timeout_s)
            except (TimeoutError, httpx.HTTPError, ApiError, ValueError) as error:
                if len(self.errors) < 20:
                    self.errors.append(f"episode {env}: {type(error).__name__}: {error}")
                return None

        answers = await asyncio.gather(*(one(e, d) for e, d in documents.items()))
        return dict(zip(documents, answers, strict=True))

    def act(self, observation: Mapping[str, Any], sandbox: BudgetSandbox) -> NDArray[np.float64]:
        envs, channels = sandbox.num_envs, sandbox.world.channels
        if self.invalid is None or int(observation["period"][0]) == 0:
            self.invalid = np.zeros(envs, dtype=np.int64)
        live = [e for e in range(envs) if not sandbox.done[e]]
        documents = {e: observation_document(observation, sandbox, e) for e in live}
        answers = asyncio.run_coroutine_threadsafe(self._all(documents), self._loop).result()
        spend = np.zeros((envs, len(channels)))
        for env, text in answers.items():
            action = parse_action(text, channels) if text is not None else None
            if action is None:
                self.invalid[env] += 1
            else:
                spend[env] = action
        return spend


def llm_agent(
    caller: Caller,
    loop: asyncio.AbstractEventLoop,
    *,
    name: str,
    model: str,
    instructions: str | None,
    seed: int,
    timeout_s: float,
) -> _Remote:
    template = suites.text_template(
        suites.PromptSpec(text=_PROMPT), {"observation": "", "instructions": ""}
    )

    async def ask(env: int, document: dict[str, Any]) -> str:
        row = await caller.generate(
            model=model,
            inline=template,
            values={
                "observation": json.dumps(document, separators=(",", ":")),
                "instructions": instructions or "",
            },
            temperature=0.0,
            max_tokens=400,
            seed=seed + env,
        )
        return row.output

    return _Remote(name, ask, loop, timeout_s=timeout_s)


def http_agent(
    client: httpx.AsyncClient,
    loop: asyncio.AbstractEventLoop,
    *,
    name: str,
    url: str,
    run_id: str,
    timeout_s: float,
) -> _Remote:
    async def ask(env: int, document: dict[str, Any]) -> str:
        response = await client.post(
            url,
            json={"protocol": PROTOCOL, "run_id": run_id, "episode": env, "observation": document},
            timeout=timeout_s,
        )
        response.raise_for_status()
        return response.text

    return _Remote(name, ask, loop, timeout_s=timeout_s)


def module_agent(
    runtime: Any,
    loop: asyncio.AbstractEventLoop,
    *,
    name: str,
    row: Any,
    path: str,
    identity: Mapping[str, str],
    run_id: str,
    timeout_s: float,
) -> _Remote:
    """The org's registered module answering at ``path``: called the way the gateway calls
    it, with trusted identity headers (``identity``) and the protocol's JSON body."""
    from deployments.core.forwarding import ForwardedRequest
    from deployments.modules.forward import call_external, call_python, manifest_of

    manifest = manifest_of(row)

    async def ask(env: int, document: dict[str, Any]) -> str:
        request = ForwardedRequest(
            method="POST",
            path=path,
            query=(),
            headers={**identity, "content-type": "application/json"},
            body=json.dumps(
                {"protocol": PROTOCOL, "run_id": run_id, "episode": env, "observation": document}
            ).encode(),
        )
        if manifest.kind == "external":
            answer = await call_external(runtime, manifest, request)
        else:
            from deployments.modules.host import RayModuleDeployer

            answer = await call_python(RayModuleDeployer(), row, request)
        if not 200 <= answer.status_code < 300:
            raise ValueError(f"module answered HTTP {answer.status_code}")
        return answer.body.decode("utf-8", errors="replace")

    return _Remote(name, ask, loop, timeout_s=timeout_s)
