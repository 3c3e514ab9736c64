"""``/api/v1/users``: the accounts, for an admin."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from courtbox.record import users
from courtbox.web.bodies import UserBody
from courtbox.web.deps import API, Api, api_of, need

router = APIRouter(prefix=f"{API}/users", tags=["users"])


@router.get("")
def list_users(user: dict = need("users"), api: Api = Depends(api_of)) -> list[dict]:
    return [{k: u[k] for k in ("name", "display_name", "role", "disabled", "created_at")}
            for u in api.read(lambda s: s.users())]


@router.post("", status_code=201)
def create_user(body: UserBody, user: dict = need("users"),
                api: Api = Depends(api_of)) -> dict:
    api.write(lambda s: users.add_user(s, body.name, body.role, body.password,
                                       actor=user["name"], display_name=body.display_name))
    return {"name": body.name, "role": body.role, "display_name": body.display_name}
