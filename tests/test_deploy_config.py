"""serve_config.yaml (local/`liftos up`) and ray-cluster.yaml (KubeRay) must describe one system.

Compares the files generically, so adding an application to serve_config.yaml only requires
mirroring it into ray-cluster.yaml's serveConfigV2. Nothing here starts Ray or imports
the `deployments` package.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVE_CONFIG = ROOT / "serve_config.yaml"
RAY_CLUSTER = ROOT / "ray-cluster.yaml"

# Top-level Serve config keys that may legitimately differ between the local config and the
# cluster one. Empty on purpose: add a key here only with a reason next to it.
LOCAL_ONLY_KEYS: frozenset[str] = frozenset()

REQUIRED_SHARED_KEYS = ("applications", "http_options", "proxy_location")

IMPORT_PATH = re.compile(r"^deployments(\.[A-Za-z_][A-Za-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*$")


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def serve_config() -> dict[str, Any]:
    data = _load_yaml(SERVE_CONFIG)
    assert isinstance(data, dict), "serve_config.yaml must be a mapping"
    return data


@pytest.fixture(scope="module")
def ray_service() -> dict[str, Any]:
    data = _load_yaml(RAY_CLUSTER)
    assert isinstance(data, dict), "ray-cluster.yaml must hold a single RayService document"
    return data


@pytest.fixture(scope="module")
def cluster_spec(ray_service: dict[str, Any]) -> dict[str, Any]:
    spec = ray_service["spec"]["rayClusterConfig"]
    assert isinstance(spec, dict)
    return spec


@pytest.fixture(scope="module")
def embedded_serve_config(ray_service: dict[str, Any]) -> dict[str, Any]:
    raw = ray_service["spec"]["serveConfigV2"]
    # KubeRay wants a YAML *string* here, not a nested mapping.
    assert isinstance(raw, str), "spec.serveConfigV2 must be a YAML string (block literal `|`)"
    data = yaml.safe_load(raw)
    assert isinstance(data, dict), "spec.serveConfigV2 must hold a mapping"
    return data


def _apps_by_name(config: dict[str, Any], source: str) -> dict[str, Any]:
    apps = config.get("applications")
    assert isinstance(apps, list), f"{source}: `applications` must be a list"
    by_name: dict[str, Any] = {}
    for app in apps:
        assert isinstance(app, dict), f"{source}: every application must be a mapping"
        name = app.get("name")
        assert isinstance(name, str), f"{source}: application without a name: {app!r}"
        assert name not in by_name, f"{source}: duplicate application {name!r}"
        by_name[name] = app
    return by_name


def _normalise(value: Any) -> Any:
    """Order-insensitive for lists of named things (applications, deployments)."""
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_normalise(item) for item in value]
        if items and all(isinstance(item, dict) and "name" in item for item in items):
            return sorted(items, key=lambda item: str(item["name"]))
        return items
    return value


def _containers(cluster_spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    groups = [("head", cluster_spec["headGroupSpec"])]
    groups += [
        (f"worker group {group.get('groupName')!r}", group)
        for group in cluster_spec.get("workerGroupSpecs") or []
    ]
    for label, group in groups:
        pod_spec = group["template"]["spec"]
        for container in [*pod_spec.get("initContainers", []), *pod_spec["containers"]]:
            yield f"{label} / {container.get('name')!r}", container


def test_ray_cluster_is_a_rayservice(ray_service: dict[str, Any]) -> None:
    assert ray_service["apiVersion"] == "ray.io/v1"
    assert ray_service["kind"] == "RayService"


def test_applications_agree(
    serve_config: dict[str, Any], embedded_serve_config: dict[str, Any]
) -> None:
    local = _apps_by_name(serve_config, "serve_config.yaml")
    cluster = _apps_by_name(embedded_serve_config, "ray-cluster.yaml serveConfigV2")
    assert local, "serve_config.yaml declares no applications"
    assert sorted(cluster) == sorted(local), "application names differ"
    for name, app in local.items():
        assert _normalise(cluster[name]) == _normalise(app), (
            f"application {name!r} differs between serve_config.yaml and ray-cluster.yaml"
        )


@pytest.mark.parametrize("key", ["http_options", "proxy_location"])
def test_http_and_proxy_settings_agree(
    serve_config: dict[str, Any], embedded_serve_config: dict[str, Any], key: str
) -> None:
    assert key in serve_config, f"serve_config.yaml should set {key} explicitly"
    assert embedded_serve_config.get(key) == serve_config[key]


def test_every_other_top_level_key_agrees(
    serve_config: dict[str, Any], embedded_serve_config: dict[str, Any]
) -> None:
    keys = (set(serve_config) | set(embedded_serve_config)) - LOCAL_ONLY_KEYS
    for key in sorted(keys - set(REQUIRED_SHARED_KEYS)):
        assert _normalise(embedded_serve_config.get(key)) == _normalise(serve_config.get(key)), (
            f"top-level {key!r} differs between serve_config.yaml and ray-cluster.yaml"
        )


def test_head_schedules_no_work(cluster_spec: dict[str, Any]) -> None:
    params = cluster_spec["headGroupSpec"]["rayStartParams"]
    # KubeRay requires rayStartParams values to be strings.
    assert params["num-cpus"] == "0"


def test_autoscaling_worker_group(cluster_spec: dict[str, Any]) -> None:
    assert cluster_spec.get("enableInTreeAutoscaling") is True
    groups = cluster_spec.get("workerGroupSpecs") or []
    scalable = [g for g in groups if int(g["minReplicas"]) < int(g["maxReplicas"])]
    assert scalable, "need at least one worker group with minReplicas < maxReplicas"
    for group in scalable:
        assert int(group["minReplicas"]) <= int(group["replicas"]) <= int(group["maxReplicas"])


def test_gcs_fault_tolerance(ray_service: dict[str, Any], cluster_spec: dict[str, Any]) -> None:
    options = cluster_spec.get("gcsFaultToleranceOptions") or {}
    assert options.get("redisAddress"), "gcsFaultToleranceOptions.redisAddress must be set"
    # The annotation-based API is deprecated and must not be mixed with gcsFaultToleranceOptions.
    annotations = (ray_service.get("metadata") or {}).get("annotations") or {}
    assert "ray.io/ft-enabled" not in annotations


def test_ha_proxy_enabled_in_every_container(cluster_spec: dict[str, Any]) -> None:
    containers = list(_containers(cluster_spec))
    assert containers
    for label, container in containers:
        env = {item["name"]: item.get("value") for item in container.get("env") or []}
        assert env.get("RAY_SERVE_ENABLE_HA_PROXY") == "1", f"{label}: HAProxy not enabled"


def test_no_deprecated_rayservice_fields(ray_service: dict[str, Any]) -> None:
    spec = ray_service["spec"]
    for field in ("serviceUnhealthySecondThreshold", "deploymentUnhealthySecondThreshold"):
        assert field not in spec, f"{field} is deprecated and ignored by KubeRay"


@pytest.mark.parametrize("source", ["serve_config.yaml", "ray-cluster.yaml"])
def test_valid_for_ray_serve_schema(
    source: str, serve_config: dict[str, Any], embedded_serve_config: dict[str, Any]
) -> None:
    from ray.serve.schema import ServeDeploySchema

    config = serve_config if source == "serve_config.yaml" else embedded_serve_config
    parsed = ServeDeploySchema.model_validate(config)
    assert [app.name for app in parsed.applications] == [
        app["name"] for app in config["applications"]
    ]


def test_import_paths_live_under_deployments(serve_config: dict[str, Any]) -> None:
    for name, app in _apps_by_name(serve_config, "serve_config.yaml").items():
        import_path = app.get("import_path")
        assert isinstance(import_path, str), f"application {name!r} has no import_path"
        assert IMPORT_PATH.match(import_path), (
            f"application {name!r}: import_path {import_path!r} must be "
            "'deployments.<module path>:<attribute>'"
        )


def test_route_prefixes_are_unique(serve_config: dict[str, Any]) -> None:
    prefixes = [app.get("route_prefix") for app in serve_config["applications"]]
    assert len(prefixes) == len(set(prefixes)), prefixes


# The memory API answers at both of these (README, product description): the second is an
# application of the same import path, not a gateway route.
MEMORY_PREFIXES = {"/api/v1/memory", "/memory"}
MEMORY_IMPORT_PATH = "deployments.memory.app:app"


@pytest.mark.parametrize("source", ["serve_config.yaml", "ray-cluster.yaml"])
def test_memory_is_served_at_both_prefixes_by_equal_applications(
    source: str, serve_config: dict[str, Any], embedded_serve_config: dict[str, Any]
) -> None:
    config = serve_config if source == "serve_config.yaml" else embedded_serve_config
    memory_apps = [
        app for app in config["applications"] if app.get("import_path") == MEMORY_IMPORT_PATH
    ]
    assert {app["route_prefix"] for app in memory_apps} == MEMORY_PREFIXES
    # Same deployments, same options: one memory service behind two paths.
    first, second = (_normalise(app["deployments"]) for app in memory_apps)
    assert first == second
