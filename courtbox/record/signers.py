"""Who signs a hearing's record: its own panel and its own clerk, named when it is opened.

The open names the panel's accounts (``panel_users``, judges; the first presides) and the
clerk's (``clerk_user``; default: the one who opens it). From then on only they sign the
transcript off (``courtbox.record.transcript.sign_off``) and only its clerk (or an admin)
closes it; anyone else is refused (``NotYourHearing``) and the refusal is in the audit log.
Names that are not accounts on this box cannot be checked and are refused at open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from courtbox.errors import NotYourHearing

if TYPE_CHECKING:
    from courtbox.record.store import Store


def _account(store: Store, name: str, role: str, field: str) -> str:
    row = store.user(name)
    if row is None or row["disabled"]:
        raise NotYourHearing(f"{field}: no active account {name!r} on this box")
    if row["role"] != role:
        raise NotYourHearing(f"{field}: {name} is a {row['role']}, not a {role}")
    return name


def hearing_signers(store: Store, panel_users: list[str], clerk_user: str,
                    actor: str) -> tuple[list[str], str]:
    """The panel's and the clerk's accounts of a hearing being opened by ``actor``,
    checked: the panel's are judges, the clerk a clerk (default: ``actor``, where the
    actor is a clerk account or no account at all, as on the command line)."""
    panel = [_account(store, n, "judge", "panel_users") for n in dict.fromkeys(panel_users)]
    if clerk_user:
        return panel, _account(store, clerk_user, "clerk", "clerk_user")
    opener = store.user(actor)
    return panel, actor if opener is None or opener["role"] == "clerk" else ""


def check_may_sign(store: Store, hearing: dict, user: str, role: str) -> None:
    """``NotYourHearing`` unless ``user`` is one of ``hearing``'s own signers."""
    own = (role == "judge" and user in (hearing.get("panel_users") or [])) or \
        (role == "clerk" and user == hearing.get("clerk_user"))
    if not own:
        who = "合议庭成员" if role == "judge" else "书记员"
        store.audit(user, "transcript.signoff_refused", hearing["id"], role=role)
        raise NotYourHearing(f"{user} 不是本案的{who}，不能签署案件 "
                             f"{hearing['case_number']} 的笔录")


def check_may_close(store: Store, hearing: dict, actor: str) -> None:
    """``NotYourHearing`` where ``actor`` is a clerk account other than the hearing's own
    clerk (an admin, the command line and the hearing's clerk close it)."""
    row = store.user(actor)
    clerk = hearing.get("clerk_user")
    if row is not None and row["role"] == "clerk" and clerk and actor != clerk:
        store.audit(actor, "hearing.close_refused", hearing["id"])
        raise NotYourHearing(f"{actor} 不是本案的书记员，不能闭庭（本案书记员：{clerk}）")


# What the record calls each role beside a person's name: 书记员 张三.
ROLE_TITLES = {"clerk": "书记员", "judge": "审判员", "technician": "技术员", "admin": "管理员"}


def person(store: Store, name: str, hearing: dict | None = None) -> dict:
    """``{"user", "name", "title", "label"}`` of the account ``name``: its real name and
    its title (in ``hearing``: the first of its panel is 审判长); ``label`` as the record
    shows it (书记员 张三). An unknown name (``asr``, an operator) is itself."""
    row = store.user(name)
    if row is None:
        return {"user": name, "name": name, "title": "", "label": name}
    title = ROLE_TITLES.get(row["role"], row["role"])
    if hearing is not None and row["role"] == "judge" and \
            (hearing.get("panel_users") or [None])[0] == name:
        title = "审判长"
    real = row.get("display_name") or name
    return {"user": name, "name": real, "title": title, "label": f"{title} {real}"}
