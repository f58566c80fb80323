"""`liftos module new`: the scaffold, and the module it generates, both work."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from cluster.scaffold import package_name, scaffold_module

with warnings.catch_warnings():
    # Starlette >= 1.0 prefers httpx2 for its TestClient and warns when only httpx is installed.
    warnings.filterwarnings(
        "ignore", message=r"Using `httpx` with `starlette\.testclient`", category=UserWarning
    )
    from fastapi.testclient import TestClient

NAME = "hello-world"
TRUSTED_HEADERS = {
    "X-LiftOS-Org": "org-123",
    "X-LiftOS-Principal": "user-456",
    "X-LiftOS-Role": "admin",
    "X-Request-ID": "req-789",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    return scaffold_module(NAME, tmp_path / "modules")


@pytest.fixture
def app_module(module_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    package = package_name(NAME)
    monkeypatch.syspath_prepend(str(module_dir))
    try:
        yield importlib.import_module(f"{package}.app")
    finally:
        for loaded in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[loaded]


def test_creates_the_module_directory(tmp_path: Path) -> None:
    created = scaffold_module(NAME, tmp_path)
    assert created == tmp_path / NAME
    files = sorted(p.relative_to(created).as_posix() for p in created.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "hello_world/__init__.py",
        "hello_world/app.py",
        "module.json",
        "pyproject.toml",
        "tests/test_app.py",
    ]
    for path in created.rglob("*"):
        assert not path.name.endswith(".tmpl")
        if path.is_file():
            assert "{{" not in path.read_text(encoding="utf-8"), f"placeholder left in {path}"


def test_module_json_is_a_valid_manifest(module_dir: Path) -> None:
    manifest = json.loads((module_dir / "module.json").read_text(encoding="utf-8"))
    assert manifest["name"] == NAME
    assert manifest["version"] == "0.1.0"
    assert manifest["import_path"] == "hello_world.app:create_app"
    assert "base_url" not in manifest
    assert isinstance(manifest["description"], str)
    assert isinstance(manifest["capabilities"], list)
    assert manifest["permissions"] == ["modules:call"]
    assert manifest["endpoints"] == [
        {
            "method": "GET",
            "path": "/hello",
            "permission": "modules:call",
            "description": manifest["endpoints"][0]["description"],
        }
    ]


def test_readme_explains_register_and_call(module_dir: Path) -> None:
    readme = (module_dir / "README.md").read_text(encoding="utf-8")
    assert "curl -X POST http://localhost:8000/modules" in readme
    assert "-d @module.json" in readme
    assert f"http://localhost:8000/api/v1/{NAME}/hello" in readme
    assert "pip install -e ." in readme


def test_generated_app_answers_hello_with_trusted_headers(app_module: ModuleType) -> None:
    with TestClient(app_module.create_app()) as client:
        response = client.get("/hello", headers=TRUSTED_HEADERS)
    assert response.status_code == 200
    body = response.json()
    assert body["module"] == NAME
    assert body["org_id"] == "org-123"
    assert isinstance(body["message"], str)
    assert body["message"]


def test_generated_app_rejects_calls_without_the_org_header(app_module: ModuleType) -> None:
    headers = {k: v for k, v in TRUSTED_HEADERS.items() if k != "X-LiftOS-Org"}
    with TestClient(app_module.create_app()) as client:
        assert client.get("/hello").status_code // 100 == 4
        assert client.get("/hello", headers=headers).status_code // 100 == 4
        assert client.get("/hello", headers={"X-LiftOS-Org": ""}).status_code // 100 == 4


def test_generated_modules_own_tests_pass(module_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module_dir)],
        cwd=module_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 40 characters"),
        ("a" * 41, "3 to 40 characters"),
        ("1module", "start with a lowercase letter"),
        ("-module", "start with a lowercase letter"),
        ("My-module", "start with a lowercase letter"),
        ("my_module", "'_'"),
        ("my-Module", "'M'"),
        ("my module", "' '"),
        ("module-", "end with a lowercase letter or digit"),
        ("class", "keyword"),
        ("json", "clash"),
        ("abc", "clash"),
        ("deployments", "clash"),
    ],
)
def test_rejects_invalid_names(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(ValueError, match="invalid module name") as excinfo:
        scaffold_module(name, tmp_path)
    assert problem in str(excinfo.value)
    assert list(tmp_path.iterdir()) == []


def test_accepts_boundary_names(tmp_path: Path) -> None:
    for name in ("xyz", "a" * 40, "a1-b2-c3"):
        assert scaffold_module(name, tmp_path).is_dir()


def test_refuses_to_overwrite_an_existing_directory(tmp_path: Path) -> None:
    existing = tmp_path / NAME
    existing.mkdir()
    (existing / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError):
        scaffold_module(NAME, tmp_path)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_refuses_to_scaffold_twice(tmp_path: Path) -> None:
    scaffold_module(NAME, tmp_path)
    with pytest.raises(FileExistsError):
        scaffold_module(NAME, tmp_path)
