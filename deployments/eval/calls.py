"""Calls to the org's configured models, through the LLM module's own service: every call the
eval module makes (a case, a judge's grade, an LLM agent's allocation) is routed, retried,
priced, budgeted and stored like any other generation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cluster.repositories import llm as llm_repo
from deployments.common.principal import Principal
from deployments.common.runtime import Runtime
from deployments.llm import service as llm
from deployments.llm.providers import AdapterPool
from engine.auth.rbac import Role
from engine.llm.templates import TemplateSpec


@dataclass(frozen=True)
class Caller:
    """Who the run calls models as (the principal that started it) and with which clients."""

    runtime: Runtime
    pool: AdapterPool
    org_id: uuid.UUID
    principal: Principal
    request_id: str

    @classmethod
    def of(
        cls,
        runtime: Runtime,
        *,
        org_id: uuid.UUID,
        principal_kind: str,
        principal_id: uuid.UUID,
        role: str,
        plan: str,
        request_id: str,
        pool: AdapterPool | None = None,
    ) -> Caller:
        principal = Principal(
            kind=principal_kind,  # type: ignore[arg-type]  # validated where it was stored
            id=principal_id,
            org_id=org_id,
            role=Role(role),
            plan=plan,
        )
        return cls(runtime, pool or AdapterPool(), org_id, principal, request_id)

    async def generate(
        self,
        *,
        model: str,
        values: Mapping[str, object],
        template: str | None = None,
        inline: TemplateSpec | None = None,
        language: str = "en",
        platform: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = None,
    ) -> llm_repo.GenerationRow:
        """One generation, stored; raises the LLM module's ``ApiError`` when it cannot be made
        (no such model, budget exhausted, every provider failing)."""
        command = llm.GenerateCommand(
            template=template or (inline.name if inline else "product_description"),
            language=language,
            values=values,
            platform=platform,
            model=model,
            variants=1,
            template_version=None,
            template_label=None,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            remember=False,
            request_id=self.request_id,
            inline=inline,
        )
        prepared = await llm.prepare(
            self.runtime, self.pool, org_id=self.org_id, principal=self.principal, command=command
        )
        row = await llm.Generator(self.runtime, prepared).run(0)
        (stored,) = await llm.store_generations(self.runtime, org_id=self.org_id, rows=[row])
        return stored
