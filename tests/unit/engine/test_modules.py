from typing import Any

import pytest
from pydantic import ValidationError

from engine.auth.rbac import Permission
from engine.modules import RESERVED_MODULE_NAMES, ModuleEndpoint, ModuleManifest


def manifest(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "acme-mmm",
        "version": "1.2.3",
        "import_path": "acme_mmm.service:create_app",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def invalid(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        ModuleManifest.model_validate(body)


def test_minimal_python_module() -> None:
    m = ModuleManifest.model_validate(manifest())
    assert m.kind == "python"
    assert m.base_url is None
    assert m.capabilities == []
    assert m.endpoints == []
    assert m.permissions == []
    assert m.description == ""


def test_full_external_module() -> None:
    m = ModuleManifest.model_validate(
        manifest(
            import_path=None,
            base_url="https://mmm.acme.example/api/v1/",
            description="Media mix model",
            capabilities=["mmm", "forecast.v2", "causal:attribution", "x_y-z"],
            permissions=["memory:read", "causal:run"],
            endpoints=[
                {"method": "POST", "path": "/fit", "permission": "causal:run"},
                {"method": "GET", "path": "/models/{model_id}", "description": "one model"},
            ],
        )
    )
    assert m.kind == "external"
    assert m.base_url == "https://mmm.acme.example/api/v1"
    assert m.permissions == [Permission.MEMORY_READ, Permission.CAUSAL_RUN]
    assert m.endpoints[0].permission is Permission.CAUSAL_RUN
    assert m.endpoints[1].permission is Permission.MODULES_CALL


def test_json_round_trip_keeps_routing() -> None:
    m = ModuleManifest.model_validate(
        manifest(endpoints=[{"method": "GET", "path": "/a/{id}", "permission": "eval:read"}])
    )
    again = ModuleManifest.model_validate_json(m.model_dump_json())
    assert again == m
    assert again.endpoint_permission("GET", "/a/1") is Permission.EVAL_READ


def test_frozen() -> None:
    m = ModuleManifest.model_validate(manifest())
    with pytest.raises(ValidationError):
        m.name = "other"


def test_base_url_root_has_no_trailing_slash() -> None:
    m = ModuleManifest.model_validate(manifest(import_path=None, base_url="http://svc:8080"))
    assert m.base_url == "http://svc:8080"


@pytest.mark.parametrize("version", ["0.0.1", "1.2.3-rc.1", "10.20.30+build.5"])
def test_semver_ok(version: str) -> None:
    assert ModuleManifest.model_validate(manifest(version=version)).version == version


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "01.2.3", "latest", ""])
def test_semver_bad(version: str) -> None:
    invalid(
        manifest(version=version),
        rf"version must be semantic \(MAJOR\.MINOR\.PATCH\), got '{version}'",
    )


@pytest.mark.parametrize("name", sorted(RESERVED_MODULE_NAMES))
def test_reserved_names(name: str) -> None:
    invalid(manifest(name=name), "reserved")


def test_reserved_set_is_exact() -> None:
    assert {"auth", "modules", "audit", "healthz", "readyz", "docs", "openapi", "api"} < (
        RESERVED_MODULE_NAMES
    )
    assert len(RESERVED_MODULE_NAMES) == 25


@pytest.mark.parametrize("name", ["abc", "a1-b2", "x" * 40, "auth-plus"])
def test_good_names(name: str) -> None:
    ModuleManifest.model_validate(manifest(name=name))


@pytest.mark.parametrize(
    "name", ["ab", "x" * 41, "1abc", "-abc", "abc-", "Abc", "ab_c", "ab c", "abç"]
)
def test_bad_names(name: str) -> None:
    invalid(manifest(name=name), "name")


def field_of(body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        ModuleManifest.model_validate(body)
    [error] = info.value.errors()
    return ".".join(str(part) for part in error["loc"]), error["msg"]


def test_both_targets_rejected() -> None:
    field, message = field_of(manifest(base_url="https://x.example"))
    assert field == "import_path"
    assert "not both" in message


def test_neither_target_rejected_naming_the_field() -> None:
    field, message = field_of(manifest(import_path=None))
    assert field == "base_url"
    assert "say where the module runs" in message
    assert "import_path" in message


def test_the_product_descriptions_module_json_as_written() -> None:
    # module.json of the product description, with the one thing it cannot say: where the
    # module runs (there it is a container image; here the URL that container serves).
    seed = {
        "name": "my-module",
        "version": "1.0.0",
        "capabilities": ["custom_analysis"],
        "endpoints": {"my_endpoint": "/api/v1/my-endpoint"},
        "permissions": ["memory:read", "memory:write"],
    }
    assert field_of(seed)[0] == "base_url"
    module = ModuleManifest.model_validate({**seed, "base_url": "http://my-module:8080"})
    [endpoint] = module.endpoints
    assert (endpoint.name, endpoint.method, endpoint.path) == (
        "my_endpoint",
        "ANY",
        "/api/v1/my-endpoint",
    )
    for method in ("GET", "POST", "DELETE"):
        assert module.endpoint_permission(method, "/api/v1/my-endpoint") is Permission.MODULES_CALL
    with pytest.raises(LookupError):
        module.endpoint_permission("POST", "/api/v1/elsewhere")
    # Stored as the list form, which reads back the same.
    stored = module.model_dump(mode="json")
    assert ModuleManifest.model_validate(stored).endpoints == module.endpoints


def test_a_methods_own_endpoint_wins_over_any() -> None:
    module = ModuleManifest.model_validate(
        manifest(
            endpoints=[
                {"method": "ANY", "path": "/scores", "permission": "modules:call"},
                {"method": "POST", "path": "/scores", "permission": "causal:run"},
            ]
        )
    )
    assert module.endpoint_permission("POST", "/scores") is Permission.CAUSAL_RUN
    assert module.endpoint_permission("GET", "/scores") is Permission.MODULES_CALL


def test_endpoints_by_name_with_a_method_and_permission() -> None:
    module = ModuleManifest.model_validate(
        manifest(
            endpoints={"score": {"method": "POST", "path": "/score", "permission": "causal:read"}}
        )
    )
    assert module.endpoint_permission("POST", "/score") is Permission.CAUSAL_READ
    with pytest.raises(LookupError):
        module.endpoint_permission("GET", "/score")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.example/a",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "x.example",
        "https://user:pw@x.example",
        "https://user@x.example",
        "https://x.example/a?q=1",
        "https://x.example/a?",
        "https://x.example/a#frag",
        "https://" + "a" * 500 + ".example",
    ],
)
def test_bad_base_urls(url: str) -> None:
    invalid(manifest(import_path=None, base_url=url), "base_url")


@pytest.mark.parametrize("path", ["pkg:app", "a.b.c:make_app", "_p.m2:App", "Pkg.Mod:factory"])
def test_good_import_paths(path: str) -> None:
    assert ModuleManifest.model_validate(manifest(import_path=path)).import_path == path


@pytest.mark.parametrize(
    "path", ["pkg", "pkg:", ":app", "1pkg:app", "pkg:app.attr", "pkg:a b", "pkg/mod:app"]
)
def test_bad_import_paths(path: str) -> None:
    invalid(manifest(import_path=path), "import_path")


def test_extra_field_rejected() -> None:
    invalid(manifest(entrypoint="x"), "entrypoint")


def test_extra_endpoint_field_rejected() -> None:
    invalid(manifest(endpoints=[{"method": "GET", "path": "/a", "auth": "none"}]), "auth")


@pytest.mark.parametrize("capabilities", [[""], ["UPPER"], ["has space"], ["x" * 65], ["ok"] * 51])
def test_bad_capabilities(capabilities: list[str]) -> None:
    invalid(manifest(capabilities=capabilities), "capabilities")


def test_bad_permissions() -> None:
    invalid(manifest(permissions=["root:all"]), "permissions")
    invalid(manifest(permissions=["memory:read"] * 51), "permissions")


def test_limits_on_lengths() -> None:
    invalid(manifest(description="d" * 1001), "description")
    endpoints = [{"method": "GET", "path": f"/e{i}"} for i in range(201)]
    invalid(manifest(endpoints=endpoints), "endpoints")
    ModuleManifest.model_validate(manifest(endpoints=endpoints[:200]))


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ({"method": "GET", "path": "no-slash"}, "start with '/'"),
        ({"method": "GET", "path": "/a/../b"}, r"'\.\.'"),
        ({"method": "GET", "path": "/a b"}, "whitespace"),
        ({"method": "GET", "path": "/a\tb"}, "whitespace"),
        ({"method": "GET", "path": "/a?x=1"}, "query"),
        ({"method": "GET", "path": "/" + "a" * 200}, "200"),
        ({"method": "get", "path": "/a"}, "method"),
        ({"method": "TRACE", "path": "/a"}, "method"),
        ({"method": "GET", "path": "/a", "permission": "root"}, "permission"),
        ({"method": "GET", "path": "/a", "description": "d" * 501}, "description"),
    ],
)
def test_bad_endpoints(endpoint: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        ModuleEndpoint.model_validate(endpoint)


def test_duplicate_endpoint_rejected() -> None:
    endpoints = [{"method": "GET", "path": "/a"}, {"method": "GET", "path": "/a"}]
    invalid(manifest(endpoints=endpoints), "declared twice")


def test_same_path_different_methods_allowed() -> None:
    endpoints = [
        {"method": "GET", "path": "/a", "permission": "memory:read"},
        {"method": "POST", "path": "/a", "permission": "memory:write"},
    ]
    m = ModuleManifest.model_validate(manifest(endpoints=endpoints))
    assert m.endpoint_permission("GET", "/a") is Permission.MEMORY_READ
    assert m.endpoint_permission("POST", "/a") is Permission.MEMORY_WRITE


def test_no_endpoints_means_modules_call() -> None:
    m = ModuleManifest.model_validate(manifest())
    assert m.endpoint_permission("DELETE", "/anything/at/all") is Permission.MODULES_CALL


@pytest.fixture
def routed() -> ModuleManifest:
    return ModuleManifest.model_validate(
        manifest(
            endpoints=[
                {"method": "GET", "path": "/items/{id}", "permission": "memory:read"},
                {"method": "GET", "path": "/items/export", "permission": "eval:run"},
                {"method": "PUT", "path": "/items/{id}/tags/{tag}", "permission": "memory:write"},
                {"method": "POST", "path": "/run.v1", "permission": "causal:run"},
            ]
        )
    )


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/items/42", Permission.MEMORY_READ),
        ("get", "/items/abc-def", Permission.MEMORY_READ),
        ("GET", "/items/export", Permission.EVAL_RUN),
        ("PUT", "/items/7/tags/red", Permission.MEMORY_WRITE),
        ("POST", "/run.v1", Permission.CAUSAL_RUN),
    ],
)
def test_endpoint_permission_matches(
    routed: ModuleManifest, method: str, path: str, expected: Permission
) -> None:
    assert routed.endpoint_permission(method, path) is expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/items/42"),
        ("GET", "/items"),
        ("GET", "/items/"),
        ("GET", "/items/42/extra"),
        ("GET", "/items/4/2"),
        ("PUT", "/items/7/tags/"),
        ("POST", "/runxv1"),
        ("GET", "/other"),
    ],
)
def test_endpoint_permission_unknown_route(routed: ModuleManifest, method: str, path: str) -> None:
    with pytest.raises(LookupError, match="acme-mmm"):
        routed.endpoint_permission(method, path)


def test_literal_braces_are_not_params() -> None:
    m = ModuleManifest.model_validate(
        manifest(endpoints=[{"method": "GET", "path": "/a{b}"}, {"method": "GET", "path": "/{1x}"}])
    )
    assert m.endpoint_permission("GET", "/a{b}") is Permission.MODULES_CALL
    assert m.endpoint_permission("GET", "/{1x}") is Permission.MODULES_CALL
    with pytest.raises(LookupError):
        m.endpoint_permission("GET", "/aX")
    with pytest.raises(LookupError):
        m.endpoint_permission("GET", "/zz")
