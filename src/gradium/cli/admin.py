"""Local administration: ``gradium keys ...`` and ``gradium orgs ...``.

These commands open the server's database directly (no running server needed, and safe while one
runs: SQLite WAL plus a busy timeout), so they are for whoever has access to the data directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gradium.cli.common import DATABASE_URL_ENV, default_data_dir

# The accounts package (SQLAlchemy, Alembic) is imported inside the commands: every `gradium`
# invocation imports this module, and client commands should not pay for the database stack.
if TYPE_CHECKING:
    from gradium.accounts.models import ApiKey, Organisation
    from gradium.accounts.store import AccountStore

_F = TypeVar("_F", bound=Callable[..., Any])


def register(group: click.Group) -> None:
    group.add_command(keys)
    group.add_command(orgs)


# Shared plumbing ---------------------------------------------------------------------------------


def _data_dir_option(func: _F) -> _F:
    option = click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Server data directory (default: $GRADIUM_DATA_DIR or ./data).")
    return option(func)


def _json_option(func: _F) -> _F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


@contextmanager
def _open_store(data_dir: Path | None, *, create: bool = False) -> Iterator[AccountStore]:
    """The store for ``data_dir``, with store errors turned into one-line CLI errors.

    Without ``create`` a missing database is an error, so that a mistyped --data-dir does not
    silently produce an empty one. ``GRADIUM_DATABASE_URL`` (as for ``gradium serve``) points the
    commands at the PostgreSQL database that replicas share instead.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from gradium.accounts.db import DB_FILENAME
    from gradium.accounts.errors import AccountError
    from gradium.accounts.store import AccountStore

    directory = data_dir or default_data_dir()
    database_url = os.environ.get(DATABASE_URL_ENV) or None
    if database_url is None and not create and not (directory / DB_FILENAME).is_file():
        raise click.ClickException(
            f"no database at {directory / DB_FILENAME}; start `gradium serve --data-dir {directory}` "
            "once, or pass the right --data-dir")
    try:
        store = AccountStore(directory, database_url)
    except OSError as exc:
        raise click.ClickException(f"cannot use data directory {directory}: {exc}") from exc
    try:
        store.migrate()
        yield store
    except (AccountError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        message = f"database error in {store.location}: {exc.__class__.__name__}: {exc}"
        raise click.ClickException(message) from exc
    finally:
        store.close()


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for line in (headers, *rows):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def _org_label(org: Organisation) -> str:
    return f"{org.id} ({org.name})"


# gradium keys ------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--org", "org_ref", default=None, metavar="ID",
              help="Organisation id or name (default: the organisation named 'default').")
@click.option("--name", default="cli", show_default=True, help="A label for the key.")
@click.option("--admin", is_flag=True, help="Create an administrator key.")
@_json_option
@_data_dir_option
def keys_create(org_ref: str | None, name: str, admin: bool, as_json: bool, data_dir: Path | None) -> None:
    """Create an API key and print it (it cannot be shown again)."""
    with _open_store(data_dir) as store:
        org = _key_organisation(store, org_ref)
        key, plaintext = store.create_key(org.id, name, admin=admin)
    if as_json:
        _echo_json({**key.to_json(), "key": plaintext})
        return
    kind = "admin API key" if key.is_admin else "API key"
    click.echo(f"Created {kind} {key.id} ({key.name!r}) for organisation {_org_label(org)}.")
    click.echo(f"API key (shown once, store it safely): {plaintext}")


def _key_organisation(store: AccountStore, org_ref: str | None) -> Organisation:
    from gradium.accounts.errors import UnknownOrganisation
    from gradium.accounts.store import DEFAULT_ORGANISATION

    if org_ref is not None:
        return store.find_organisation(org_ref)
    try:
        return store.find_organisation(DEFAULT_ORGANISATION)
    except UnknownOrganisation:
        raise click.ClickException(
            f"there is no {DEFAULT_ORGANISATION!r} organisation; pass --org ID (see `gradium orgs list`)"
        ) from None


@keys.command("list")
@click.option("--org", "org_ref", default=None, metavar="ID",
              help="Only keys of this organisation (id or name).")
@_json_option
@_data_dir_option
def keys_list(org_ref: str | None, as_json: bool, data_dir: Path | None) -> None:
    """List API keys (their prefixes only: keys themselves are never stored)."""
    with _open_store(data_dir) as store:
        org_id = None if org_ref is None else store.find_organisation(org_ref).id
        found = store.list_keys(org_id)
    if as_json:
        _echo_json([key.to_json() for key in found])
    elif not found:
        click.echo("No API keys.")
    else:
        _echo_table(("ID", "ORG", "NAME", "KEY", "ADMIN", "STATUS", "CREATED", "LAST USED"),
                    [_key_row(key) for key in found])


def _key_row(key: ApiKey) -> list[str]:
    status = "active" if key.is_active else f"revoked {_when(key.revoked_at)}"
    return [str(key.id), str(key.org_id), key.name, key.display, "yes" if key.is_admin else "no", status,
            _when(key.created_at), _when(key.last_used_at)]


@keys.command("revoke")
@click.argument("key_ref", metavar="KEY_ID_OR_PREFIX")
@_data_dir_option
def keys_revoke(key_ref: str, data_dir: Path | None) -> None:
    """Revoke an API key, named by id or by the prefix shown in `gradium keys list`."""
    with _open_store(data_dir) as store:
        before = {key.id: key.revoked_at for key in store.list_keys()}
        key = store.revoke_key(key_ref)
    if before.get(key.id) is not None:
        click.echo(f"API key {key.id} ({key.display}, {key.name!r}) was already revoked "
                   f"on {_when(key.revoked_at)}.")
    else:
        click.echo(f"Revoked API key {key.id} ({key.display}, {key.name!r}).")


# gradium orgs ------------------------------------------------------------------------------------


@click.group()
def orgs() -> None:
    """Create and list organisations, and grant them credits."""


@orgs.command("create")
@click.argument("name")
@click.option("--credits", "credits_", type=click.IntRange(min=0), default=0, show_default=True,
              help="Initial credit allocation.")
@_json_option
@_data_dir_option
def orgs_create(name: str, credits_: int, as_json: bool, data_dir: Path | None) -> None:
    """Create an organisation (then give it a key with `gradium keys create --org ID`)."""
    with _open_store(data_dir, create=True) as store:
        org = store.create_organisation(name, credits_)
    if as_json:
        _echo_json(org.to_json())
    else:
        click.echo(f"Created organisation {_org_label(org)} with {org.remaining_credits} credits.")


@orgs.command("list")
@_json_option
@_data_dir_option
def orgs_list(as_json: bool, data_dir: Path | None) -> None:
    """List organisations and their credits."""
    with _open_store(data_dir) as store:
        found = store.list_organisations()
    if as_json:
        _echo_json([org.to_json() for org in found])
    elif not found:
        click.echo("No organisations.")
    else:
        _echo_table(("ID", "NAME", "REMAINING", "ALLOCATED", "CREATED"),
                    [[str(org.id), org.name, str(org.remaining_credits), str(org.allocated_credits),
                      _when(org.created_at)] for org in found])


@orgs.command("grant")
@click.argument("org_ref", metavar="ORG_ID")
@click.argument("amount", type=click.IntRange(min=1))
@_data_dir_option
def orgs_grant(org_ref: str, amount: int, data_dir: Path | None) -> None:
    """Add AMOUNT credits to an organisation (both its allocation and what is left)."""
    with _open_store(data_dir) as store:
        org = store.find_organisation(org_ref)
        balance = store.grant_credits(org.id, amount)
    click.echo(f"Granted {amount} credits to organisation {_org_label(org)}: "
               f"{balance.remaining} remaining of {balance.allocated} allocated.")


@orgs.command("check")
@_data_dir_option
def orgs_check(data_dir: Path | None) -> None:
    """Check the ledger: every organisation's allocation = what is left + its usage (exit 1 if not).

    Safe on a live server and after a crash: every charge is booked with its usage atomically.
    """
    with _open_store(data_dir) as store:
        problems = store.ledger_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.exceptions.Exit(1)
    click.echo("ledger ok: allocated = remaining + usage for every organisation")
