"""``rokuon user …``: add, list, change a role, deactivate / reactivate, reset MFA or password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

user_app = typer.Typer(no_args_is_help=True, help="Manage users.")
RoleOpt = Annotated[str, typer.Option(help="admin|compliance|supervisor|operator|auditor")]
TeamOpt = Annotated[str | None, typer.Option(help="Team (supervisor/operator scope).")]
AgentNameOpt = Annotated[str | None, typer.Option(
    help="The operator's name as in call metadata 'agent'.")]
EmailArg = Annotated[str, typer.Argument(help="The user's e-mail (login name).")]


def _change(do: Callable[[Session], dict[str, Any]], json_: bool,
            line: Callable[[dict[str, Any]], str]) -> None:
    """Run one audited change to a user as the CLI; a refusal is a one-line error."""
    from rokuon.users.service import UserError

    rt = _runtime()
    try:
        with rt.db.session() as s:
            res = do(s)
    except UserError as exc:
        fail(str(exc))
    if json_:
        emit_json(res)
    else:
        typer.echo(line(res))


@user_app.command("add")
def user_add(email: EmailArg, role: RoleOpt, team: TeamOpt = None,
             agent_name: AgentNameOpt = None, json_: JsonOpt = False) -> None:
    """Create a user and print a one-time password."""
    from rokuon.users.service import UserError, create_user

    rt = _runtime()
    try:
        with rt.db.session() as s:
            user, password = create_user(s, Principal.cli(), email, role, team, agent_name)
    except UserError as exc:
        fail(str(exc))
    if json_:
        emit_json({"user_id": user.id, "email": user.email, "role": user.role,
                   "team": user.team, "one_time_password": password})
    else:
        typer.echo(f"user {user.email} ({user.role}) created; one-time password: {password}")


@user_app.command("set-role")
def user_set_role(email: EmailArg, role: RoleOpt, team: TeamOpt = None,
                  agent_name: AgentNameOpt = None, json_: JsonOpt = False) -> None:
    """Change a user's role (and team / agent name): their sessions end, tokens the new
    role does not allow are revoked; audited."""
    from rokuon.users.admin import set_role

    _change(lambda s: set_role(s, Principal.cli(), email, role, team=team,
                               agent_name=agent_name), json_,
            lambda res: f"{res['email']}: {res['before']} → {res['role']}; "
                        f"{res['sessions_ended']} session(s) ended, "
                        f"{res['tokens_revoked']} token(s) revoked")


def _active(email: str, active: bool, json_: bool) -> None:
    from rokuon.users.admin import set_active

    def line(res: dict[str, Any]) -> str:
        state = "active" if active else "deactivated"
        return (f"{res['email']} {state}" + ("" if res["changed"] else " (already)")
                + (f"; {res['sessions_ended']} session(s) ended, "
                   f"{res['tokens_revoked']} token(s) revoked" if not active else ""))

    _change(lambda s: set_active(s, Principal.cli(), email, active), json_, line)


@user_app.command("deactivate")
def user_deactivate(email: EmailArg, json_: JsonOpt = False) -> None:
    """Stop a user at once (sign-in, sessions, API tokens); the user and their audit
    history stay. The last active admin cannot be deactivated."""
    _active(email, False, json_)


@user_app.command("activate")
def user_activate(email: EmailArg, json_: JsonOpt = False) -> None:
    """Let a deactivated user sign in again (tokens stay revoked: make new ones)."""
    _active(email, True, json_)


@user_app.command("list")
def user_list(json_: JsonOpt = False) -> None:
    """Every user: role, team, agent name, active, MFA, locked."""
    from rokuon.users.admin import listing

    rt = _runtime()
    with rt.db.session() as s:
        users = listing(s)
    if json_:
        emit_json({"users": users})
        return
    for u in users:
        flags = [f for f, on in (("inactive", not u["active"]), ("mfa", u["mfa_enabled"]),
                                 ("locked", u["locked"])) if on]
        typer.echo(f"{u['email']}\t{u['role']}\t{u['team'] or '-'}\t{u['agent_name'] or '-'}"
                   f"\t{','.join(flags)}")


@user_app.command("reset-mfa")
def user_reset_mfa(email: EmailArg, json_: JsonOpt = False) -> None:
    """Forget a user's authenticator and recovery codes (lost phone); they enrol again
    at their next sign-in. Audited."""
    from rokuon.users.admin import reset_mfa

    _change(lambda s: reset_mfa(s, Principal.cli(), email), json_,
            lambda res: f"{res['email']}: two-factor authentication reset; "
                        f"{res['sessions_ended']} session(s) ended")


@user_app.command("reset-password")
def user_reset_password(email: EmailArg, json_: JsonOpt = False) -> None:
    """Give a user a new one-time password (printed once) and lift a lock-out. Audited."""
    from rokuon.users.admin import reset_password

    _change(lambda s: reset_password(s, Principal.cli(), email), json_,
            lambda res: f"{res['email']}: one-time password {res['one_time_password']}")
