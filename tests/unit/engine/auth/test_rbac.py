import pytest

from engine.auth.rbac import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    can_grant_role,
    has_permission,
    parse_role,
)

ADMIN_ONLY_READS = {
    Permission.USERS_READ,
    Permission.API_KEYS_READ,
    Permission.AUDIT_READ,
    Permission.BILLING_READ,
}


def test_permission_values_are_exact() -> None:
    assert {p.value for p in Permission} == {
        "org:manage",
        "users:read",
        "users:manage",
        "api_keys:read",
        "api_keys:manage",
        "audit:read",
        "modules:read",
        "modules:register",
        "modules:call",
        "memory:read",
        "memory:write",
        "causal:read",
        "causal:run",
        "surfacing:read",
        "surfacing:run",
        "llm:read",
        "llm:generate",
        "llm:manage",
        "eval:read",
        "eval:run",
        "billing:read",
        "billing:manage",
    }


def test_ranks() -> None:
    assert [r.rank for r in (Role.OWNER, Role.ADMIN, Role.ANALYST, Role.VIEWER)] == [4, 3, 2, 1]
    assert Role("owner") is Role.OWNER
    assert Role.ADMIN.value == "admin"
    assert str(Role.ADMIN) == f"{Role.ADMIN}" == "admin"


def test_roles_are_nested() -> None:
    owner, admin = ROLE_PERMISSIONS[Role.OWNER], ROLE_PERMISSIONS[Role.ADMIN]
    analyst, viewer = ROLE_PERMISSIONS[Role.ANALYST], ROLE_PERMISSIONS[Role.VIEWER]
    assert owner > admin > analyst > viewer
    assert owner == frozenset(Permission)


def test_viewer_set_exactly() -> None:
    reads = {p for p in Permission if p.value.endswith(":read")}
    assert ROLE_PERMISSIONS[Role.VIEWER] == (reads - ADMIN_ONLY_READS) | {Permission.MODULES_CALL}


def test_analyst_adds_exactly() -> None:
    added = ROLE_PERMISSIONS[Role.ANALYST] - ROLE_PERMISSIONS[Role.VIEWER]
    assert added == {
        Permission.MEMORY_WRITE,
        Permission.CAUSAL_RUN,
        Permission.SURFACING_RUN,
        Permission.LLM_GENERATE,
        Permission.EVAL_RUN,
    }


def test_admin_adds_exactly() -> None:
    added = ROLE_PERMISSIONS[Role.ADMIN] - ROLE_PERMISSIONS[Role.ANALYST]
    assert added == ADMIN_ONLY_READS | {
        Permission.USERS_MANAGE,
        Permission.API_KEYS_MANAGE,
        Permission.MODULES_REGISTER,
        Permission.LLM_MANAGE,
    }
    assert Permission.ORG_MANAGE not in ROLE_PERMISSIONS[Role.ADMIN]
    assert Permission.BILLING_MANAGE not in ROLE_PERMISSIONS[Role.ADMIN]


def test_role_permissions_is_read_only() -> None:
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS[Role.VIEWER] = frozenset(Permission)  # type: ignore[index]


@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        (Role.VIEWER, Permission.CAUSAL_RUN, False),
        (Role.VIEWER, Permission.CAUSAL_READ, True),
        (Role.VIEWER, Permission.MODULES_CALL, True),
        (Role.VIEWER, Permission.USERS_READ, False),
        (Role.ANALYST, Permission.CAUSAL_RUN, True),
        (Role.ANALYST, Permission.AUDIT_READ, False),
        (Role.ADMIN, Permission.AUDIT_READ, True),
        (Role.ADMIN, Permission.ORG_MANAGE, False),
        (Role.OWNER, Permission.BILLING_MANAGE, True),
        ("viewer", "memory:read", True),
        ("viewer", "memory:write", False),
        ("owner", "org:manage", True),
        ("superuser", "org:manage", False),
        ("Owner", "org:manage", False),
        ("", "memory:read", False),
        ("owner", "nuke:all", False),
    ],
)
def test_has_permission(role: Role | str, permission: Permission | str, expected: bool) -> None:
    assert has_permission(role, permission) is expected


@pytest.mark.parametrize("target", list(Role))
def test_owner_grants_anything(target: Role) -> None:
    assert can_grant_role(Role.OWNER, target)


def test_admin_grants_up_to_admin() -> None:
    assert not can_grant_role(Role.ADMIN, Role.OWNER)
    assert can_grant_role(Role.ADMIN, Role.ADMIN)
    assert can_grant_role("admin", "analyst")
    assert can_grant_role(Role.ADMIN, Role.VIEWER)


@pytest.mark.parametrize("actor", [Role.ANALYST, Role.VIEWER, "nobody"])
@pytest.mark.parametrize("target", [*Role, "nobody"])
def test_others_grant_nothing(actor: Role | str, target: Role | str) -> None:
    assert not can_grant_role(actor, target)


def test_unknown_target_is_never_grantable() -> None:
    assert not can_grant_role(Role.OWNER, "root")


def test_parse_role() -> None:
    assert parse_role("analyst") is Role.ANALYST
    with pytest.raises(
        ValueError, match=r"unknown role 'x'; expected one of owner, admin, analyst, viewer"
    ):
        parse_role("x")
