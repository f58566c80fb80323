"""`liftos module new NAME`: create a LiftOS module skeleton from cluster/templates/module.

Templates are read through importlib.resources so this works from an installed wheel as well as
from a checkout. Every template file ends in `.tmpl` (stripped on output) so that ruff, mypy,
pytest and setuptools never treat the templates themselves as code or config. Placeholders are
`{{name}}` and `{{package}}`, in file contents and in path segments.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import shutil
import string
import sys
from collections.abc import Iterator, Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["NAME_PATTERN", "package_name", "scaffold_module", "validate_module_name"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
TEMPLATE_SUFFIX = ".tmpl"
_NAME_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# Top-level import names a module package must not take: the module is installed on every Ray
# node next to LiftOS, so a clash would shadow (or be shadowed by) LiftOS or its runtime.
_RESERVED_PACKAGES = frozenset(
    {
        "cluster",
        "deployments",
        "engine",
        "memory",
        "jobs",
        "tests",
        "liftos",
        "ray",
        "fastapi",
        "starlette",
        "pydantic",
        "uvicorn",
        "httpx",
        "redis",
        "asyncpg",
        "jwt",
        "yaml",
        "opentelemetry",
    }
)


def package_name(name: str) -> str:
    """The Python package for module `name`: '-' becomes '_'."""
    return name.replace("-", "_")


def validate_module_name(name: str) -> None:
    """Raise ValueError saying what is wrong with `name`, if anything."""
    if NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(f"invalid module name {name!r}: {_name_problem(name)}")
    package = package_name(name)
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise ValueError(f"invalid module name {name!r}: {package!r} is a Python keyword")
    if package in sys.stdlib_module_names or package in _RESERVED_PACKAGES:
        raise ValueError(
            f"invalid module name {name!r}: its package {package!r} would clash with the "
            "Python standard library or a package LiftOS depends on"
        )


def _name_problem(name: str) -> str:
    if not 3 <= len(name) <= 40:
        return f"must be 3 to 40 characters long, not {len(name)}"
    if not "a" <= name[0] <= "z":
        return "must start with a lowercase letter"
    bad = "".join(sorted({ch for ch in name if ch not in _NAME_CHARS}))
    if bad:
        return f"may only contain lowercase letters, digits and '-' (found {bad!r})"
    return "must end with a lowercase letter or digit"


def scaffold_module(name: str, destination: Path) -> Path:
    """Create `destination/<name>/` holding a new module; return that directory.

    Raises ValueError for an invalid name and FileExistsError if the directory exists already.
    Nothing is left behind if writing fails part-way.
    """
    validate_module_name(name)
    target = destination / name
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} already exists; refusing to overwrite it")
    package = package_name(name)
    spec = importlib.util.find_spec(package)
    if spec is not None:
        where = spec.origin or ", ".join(spec.submodule_search_locations or []) or "?"
        raise ValueError(
            f"invalid module name {name!r}: package {package!r} is already importable here "
            f"(from {where}); the module would shadow it or be shadowed by it"
        )

    values = {"name": name, "package": package}
    templates = _template_root()
    destination.mkdir(parents=True, exist_ok=True)
    target.mkdir()  # raises FileExistsError if someone else created it meanwhile
    try:
        for parts, resource in _walk(templates, ()):
            out = target.joinpath(*(_render_segment(part, values) for part in parts))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(_render(resource.read_text(encoding="utf-8"), values), encoding="utf-8")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _template_root() -> Traversable:
    root = files("cluster") / "templates" / "module"
    if not root.is_dir():
        raise FileNotFoundError(f"module templates are missing from the cluster package ({root})")
    return root


def _walk(
    node: Traversable, parts: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Traversable]]:
    for child in sorted(node.iterdir(), key=lambda item: item.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, (*parts, child.name))
        elif child.is_file():
            yield (*parts, child.name), child


def _render_segment(segment: str, values: Mapping[str, str]) -> str:
    rendered = _render(segment, values)
    return rendered.removesuffix(TEMPLATE_SUFFIX)


def _render(text: str, values: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"unknown template placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(substitute, text)
