"""The built-in module applications, as serve_config.yaml declares them.

The gateway uses this list to publish one OpenAPI document for every built-in route and to keep
registered modules from shadowing a built-in mount; tests/test_deploy_config.py checks that it
agrees with serve_config.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class BuiltinModule:
    name: str
    route_prefix: str
    factory: str  # "package.module:create_app", importable without Ray running


def import_attr(import_path: str) -> Any:
    """``"package.module:name"`` -> that object."""
    module_name, _, attr = import_path.partition(":")
    return getattr(import_module(module_name), attr)


BUILTIN_MODULES: tuple[BuiltinModule, ...] = (
    BuiltinModule("example", "/api/v1/example", "deployments.modules.example.app:create_app"),
    BuiltinModule("causal", "/api/v1/causal", "deployments.causal.app:create_app"),
    BuiltinModule("surfacing", "/api/v1/surfacing", "deployments.surfacing.app:create_app"),
    BuiltinModule("memory", "/api/v1/memory", "deployments.memory.app:create_app"),
    # The memory API again at the short paths of the product description (serve_config.yaml).
    BuiltinModule("memory-alias", "/memory", "deployments.memory.app:create_app"),
    BuiltinModule("llm", "/api/v1/llm", "deployments.llm.app:create_app"),
    # The seed's short paths of the LLM module (serve_config.yaml).
    BuiltinModule("llm-prompts", "/api/v1/prompts", "deployments.llm.app:create_prompts_app"),
    BuiltinModule("llm-models", "/api/v1/models", "deployments.llm.app:create_models_app"),
    BuiltinModule("eval", "/api/v1/eval", "deployments.eval.app:create_app"),
)


def builtin_module(name: str) -> BuiltinModule:
    """The built-in application called ``name`` (a KeyError names an unknown one)."""
    for module in BUILTIN_MODULES:
        if module.name == name:
            return module
    raise KeyError(f"no built-in module {name!r}")
