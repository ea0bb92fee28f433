"""``python -m app user ...`` and ``python -m app token ...``: users and API tokens from the command line, on the
configured database, without starting the console.

- ``user add NAME --role ROLE``, ``user passwd NAME``: the password is read from stdin (its first line) when stdin
  is not a terminal, else prompted for twice without echo.
- ``user list``, ``user remove NAME``.
- ``token create --name NAME --role ROLE``: the token alone on the last line of stdout (shown once).
- ``token list``, ``token revoke ID``.

Every problem is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from app.states import Role

ROLES = [str(role) for role in Role]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``user`` and ``token`` commands with their sub-commands."""
    user = commands.add_parser("user", help="add, list or remove users, or set a password").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="add a user (password from stdin, or prompted)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    user.add_parser("passwd", help="set a user's password (from stdin, or prompted)").add_argument("name")
    user.add_parser("list", help="every user, with role")
    user.add_parser("remove", help="remove a user and end their sessions").add_argument("name")
    token = commands.add_parser("token", help="create, list or revoke API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="create a token; it is printed once, on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=ROLES, required=True)
    token.add_parser("list", help="every token: id, name, role, last used, revoked")
    token.add_parser("revoke", help="revoke a token by its id").add_argument("id", type=_token_id)


def run(args: argparse.Namespace) -> int:
    """Do one ``user`` or ``token`` command; the exit status."""
    from app.config import get_settings
    from app.db import make_engine
    from app.errors import TooldeskError
    from app.services import audit, tokens, users

    audit.run_as(audit.COMMAND_LINE)
    engine = make_engine(get_settings().database_url)
    try:
        if args.command == "user":
            if args.action == "add":
                users.add_user(engine=engine, name=args.name, role=Role(args.role), password=_password())
                print(f"tooldesk: added user {args.name} ({args.role})", file=sys.stderr)
            elif args.action == "passwd":
                users.user_id(engine=engine, name=args.name)
                users.set_password(engine=engine, name=args.name, password=_password())
                print(f"tooldesk: password of {args.name} set", file=sys.stderr)
            elif args.action == "list":
                for person in users.list_users(engine=engine):
                    state = "" if person.has_password else "\t(no password yet)"
                    print(f"{person.name}\t{person.role}{state}")
            else:
                users.remove_user(engine=engine, name=args.name)
                print(f"tooldesk: removed user {args.name}", file=sys.stderr)
        elif args.action == "create":
            listed, token = tokens.create_token(engine=engine, name=args.name, role=Role(args.role), created_by="cli")
            print(f"API token {listed.id} {listed.name!r} ({listed.role}); copy it now, it is not shown again:")
            print(token)
        elif args.action == "list":
            for key in tokens.list_tokens(engine=engine):
                used = _when(key.last_used_at) if key.last_used_at else "never"
                revoked = f"\trevoked {_when(key.revoked_at)}" if key.revoked_at else ""
                print(f"{key.id}\t{key.name}\t{key.role}\t{key.prefix}…\tlast used {used}{revoked}")
        else:
            tokens.revoke_token(engine=engine, token_id=args.id)
            print(f"tooldesk: revoked API token {args.id}", file=sys.stderr)
    except TooldeskError as exc:
        print(f"tooldesk {args.command} {args.action}: {exc.message}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print(f"tooldesk {args.command} {args.action}: no password given", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _password() -> str:
    """The first line of stdin when it is not a terminal; else asked twice without echo. Raises ``BadRequest``
    for an empty password (nobody could sign in with it: the sign-in form refuses an empty one) or two that
    differ."""
    from app.errors import BadRequest

    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        first = line.rstrip("\r\n")
    else:
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            raise BadRequest("the two passwords differ: run the command again")
    if not first:
        raise BadRequest("the password is empty: nobody could sign in with it; give one")
    return first


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _token_id(text: str) -> int:
    """A token id as the command line takes it: a whole number that fits the database's 64-bit integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"no API token has the id {text}: ids are from 1 to {2**63 - 1}")
    return value
