"""Login, bearer tokens and role checks."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from app.auth import issue_token
from app.context import AppContext
from app.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, check_password
from app.store.rows import Role
from core.clock import VirtualClock

PASSWORD = "correct horse battery staple"


async def test_login_returns_a_working_token(
    client: httpx.AsyncClient, vclock: VirtualClock
) -> None:
    r = await client.post("/api/auth/login", json={"username": "nina", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["username"] == "nina"
    assert body["role"] == "nurse"
    assert body["expires_at"] == "2026-03-01T09:00:00Z"  # T0 + token_ttl_s (3600)
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == {"username": "nina", "role": "nurse", "disabled": False}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nina", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
async def test_login_refuses_wrong_credentials(client: httpx.AsyncClient, body: dict) -> None:
    r = await client.post("/api/auth/login", json=body)
    assert r.status_code == 401
    assert r.json()["detail"] == "wrong user name or password"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_login_payload_is_validated(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/login", json={"username": "nina"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]


async def test_api_needs_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/api/beds", "/api/alerts", "/api/patients", "/api/devices", "/api/auth/me"):
        r = await client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Basic bmluYTpwYXNz",
        "Bearer " + jwt.encode({"sub": "nina", "exp": 4102444800}, "x" * 48, algorithm="HS256"),
    ],
)
async def test_bad_tokens_are_refused(client: httpx.AsyncClient, header: str) -> None:
    r = await client.get("/api/beds", headers={"Authorization": header})
    assert r.status_code == 401


async def test_token_expires_on_the_injected_clock(
    client: httpx.AsyncClient, ctx: AppContext, nurse: dict[str, str], vclock: VirtualClock
) -> None:
    assert (await client.get("/api/beds", headers=nurse)).status_code == 200
    vclock.set(vclock.now() + timedelta(seconds=3601))
    r = await client.get("/api/beds", headers=nurse)
    assert r.status_code == 401
    assert r.json()["detail"] == "token expired"


async def test_token_of_an_unknown_user_is_refused(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    token, _ = issue_token(ctx, "ghost", Role.ADMIN)
    r = await client.get("/api/beds", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_role_comes_from_the_store_not_the_token(
    client: httpx.AsyncClient, ctx: AppContext
) -> None:
    token, _ = issue_token(ctx, "nina", Role.ADMIN)  # a nurse's token claiming admin
    r = await client.get("/api/devices", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


async def test_roles(
    client: httpx.AsyncClient,
    nurse: dict[str, str],
    engineer: dict[str, str],
    admin: dict[str, str],
) -> None:
    assert (await client.get("/api/devices", headers=nurse)).status_code == 403
    assert (await client.get("/api/devices", headers=engineer)).status_code == 200
    assert (await client.get("/api/devices", headers=admin)).status_code == 200

    start = {
        "volume_ml": 100,
        "planned_min": 45,
        "weight_kg": 70,
        "override_reason": "tests start infusions without an eligibility record",
    }
    r = await client.post("/api/beds/ICU-1/infusion/start", json=start, headers=engineer)
    assert r.status_code == 403
    assert r.json()["detail"] == "needs the role admin or investigator or nurse"

    user = {"username": "newnurse", "role": "nurse", "password": "a long enough password"}
    assert (await client.post("/api/users", json=user, headers=nurse)).status_code == 403
    assert (await client.post("/api/users", json=user, headers=engineer)).status_code == 403
    r = await client.post("/api/users", json=user, headers=admin)
    assert r.status_code == 201, r.text
    assert (await client.post("/api/users", json=user, headers=admin)).status_code == 409


async def test_a_created_user_can_log_in(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    user = {"username": "eve", "role": "engineer", "password": "another long password"}
    assert (await client.post("/api/users", json=user, headers=admin)).status_code == 201
    r = await client.post(
        "/api/auth/login", json={"username": "eve", "password": "another long password"}
    )
    assert r.status_code == 200
    assert r.json()["role"] == "engineer"


async def test_short_passwords_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    user = {"username": "eve", "role": "nurse", "password": "short"}
    r = await client.post("/api/users", json=user, headers=admin)
    assert r.status_code == 422


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH - 1, MAX_PASSWORD_LENGTH + 1])
async def test_one_password_policy_for_the_api_and_the_cli(
    client: httpx.AsyncClient, admin: dict[str, str], length: int
) -> None:
    password = "p" * length  # refused by `iaewatch users add` too (its check_password)
    with pytest.raises(ValueError, match="12 to 256 characters"):
        check_password(password)
    user = {"username": "eve", "role": "nurse", "password": password}
    assert (await client.post("/api/users", json=user, headers=admin)).status_code == 422
    user["password"] = "p" * MIN_PASSWORD_LENGTH
    check_password(user["password"])
    assert (await client.post("/api/users", json=user, headers=admin)).status_code == 201


async def test_admins_list_users(
    client: httpx.AsyncClient, admin: dict[str, str], engineer: dict[str, str]
) -> None:
    assert (await client.get("/api/users", headers=engineer)).status_code == 403
    r = await client.get("/api/users", headers=admin)
    assert r.status_code == 200
    assert [(u["username"], u["role"]) for u in r.json()] == [
        ("ada", "admin"),
        ("eric", "engineer"),
        ("nina", "nurse"),
    ]


async def test_logins_are_audited(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    before = len((await client.get("/api/audit", headers=admin)).json())
    await client.post("/api/auth/login", json={"username": "nina", "password": "nope"})
    await client.post("/api/auth/login", json={"username": "nina", "password": PASSWORD})
    entries = (await client.get("/api/audit", headers=admin)).json()
    # a wrong password is counted (app.login_guard), audited only when it locks something
    assert [(e["action"], e["actor"]) for e in entries[: len(entries) - before]] == [
        ("login", "nina")
    ]
