"""CLI ``users add|list|set-role|passwd|remove``: accounts of the app (mounted by the CLI).

Passwords are read from standard input (``--password-stdin``: the first line, without its newline), never
from the command line where ``ps`` and the shell history would show them. Every error is one red line: exit
status 2 for bad input (a name, role, e-mail or password that no account may have), 1 for a change refused
or failed (no such user, a name taken, the last admin or the last account: without accounts the server
would let anyone in as an admin, a database error).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from opsml_image.auth import AccountError, Accounts, Role
from opsml_image.auth.accounts import normalise_email, normalise_name, parse_role
from opsml_image.auth.passwords import check_new_password
from opsml_image.cli.support import fail

__all__ = ["users_app"]

users_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Manage the app's accounts.")

_ROLES = ", ".join(role.value for role in Role)
_STDIN_HELP = "Read the password from standard input (first line)."


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name: a-z 0-9 . _ @ - (stored in lower case).")],
    role: Annotated[str, typer.Option(help=f"Role: {_ROLES}.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help=_STDIN_HELP)] = False,
    email: Annotated[str | None, typer.Option(help="E-mail an OIDC sign-in maps to this user.")] = None,
) -> None:
    """Add an account (a password from stdin, an e-mail for OIDC, or both)."""
    password = _read_password() if password_stdin else None
    with _bad_input():
        normalise_name(name)
        parse_role(role)
        normalise_email(email)
        if password is None and not (email or "").strip():
            raise AccountError("give a password (--password-stdin) or an e-mail for OIDC sign-in")
    with _accounts() as accounts:
        user = accounts.add_user(name, role, password=password, email=email)
    typer.secho(f"added {user.label}" + (f" <{user.email}>" if user.email else ""), fg="green")


@users_app.command("list")
def list_users(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the accounts (name, role, e-mail, password set, live sessions)."""
    with _accounts() as accounts:
        found = accounts.list_users()
    if as_json:
        for account in found:
            row = {
                "name": account.name,
                "role": account.role.value,
                "email": account.email,
                "password": account.has_password,
                "sessions": account.sessions,
                "created_at": account.created_at,
            }
            typer.echo(json.dumps(row))
        return
    if not found:
        typer.echo("no accounts: the app runs in single-user mode (local admin, 127.0.0.1 only)")
        typer.echo("add one with: python -m opsml_image users add NAME --role admin --password-stdin")
        return
    typer.echo(f"{'name':<24} {'role':<10} {'password':<9} {'sessions':>8}  {'created':<10}  e-mail")
    for a in found:
        created = datetime.datetime.fromtimestamp(a.created_at, datetime.UTC).date().isoformat()
        password = "yes" if a.has_password else "no"
        typer.echo(
            f"{a.name:<24} {a.role.value:<10} {password:<9} {a.sessions:>8}  {created:<10}  {a.email or ''}"
        )


@users_app.command("set-role")
def set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help=f"New role: {_ROLES}.")],
) -> None:
    """Change a user's role (applies to their open sessions at their next action; not the last admin's)."""
    with _bad_input():
        parse_role(role)
    with _accounts() as accounts:
        user = accounts.set_role(name, role)
    typer.secho(f"{user.label}", fg="green")


@users_app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="User name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help=_STDIN_HELP)] = False,
) -> None:
    """Set a user's password (ends every session of that user)."""
    if not password_stdin:
        raise fail("give the new password on standard input with --password-stdin", 2)
    password = _read_password()
    with _accounts() as accounts:
        accounts.set_password(name, password)
    typer.secho(f"password of {name.strip().lower()} changed; their sessions ended", fg="green")


@users_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Remove an account (its sessions end at once); the last admin and the last account stay."""
    with _accounts() as accounts:
        accounts.remove_user(name)
    typer.secho(f"removed {name.strip().lower()}", fg="green")


def _read_password() -> str:
    """The first line of standard input, checked as a new password (exit 2 when no account may have it)."""
    line = sys.stdin.readline()
    if not line:
        raise fail("no password on standard input", 2)
    password = line.removesuffix("\n").removesuffix("\r")
    with _bad_input():
        check_new_password(password)
    return password


@contextlib.contextmanager
def _bad_input() -> Iterator[None]:
    """A value no account may have (checked before the database is opened): one red line, exit status 2."""
    try:
        yield
    except AccountError as error:
        raise fail(error, 2) from None


@contextlib.contextmanager
def _accounts() -> Iterator[Accounts]:
    """The app database's accounts; account and database errors become one line and exit status 1."""
    import sqlalchemy as sa

    try:
        accounts = Accounts()
    except (sa.exc.SQLAlchemyError, OSError, ValueError) as error:
        raise fail(f"cannot open the app database: {error}") from None
    try:
        yield accounts
    except AccountError as error:
        raise fail(error) from None
    except sa.exc.SQLAlchemyError as error:
        raise fail(f"app database error: {error}") from None
    finally:
        accounts.close()
