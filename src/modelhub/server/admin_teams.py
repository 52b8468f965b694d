"""``modelhub admin`` commands for teams: disable / enable / delete users, organization roles and members.

Registered by ``cli.register`` in one line; the storage arguments and the transaction wrapper are ``cli``'s, so
whatever ``cli`` requires of ``--data-dir`` applies here too."""

from __future__ import annotations

import argparse
import sys


def register(user: argparse._SubParsersAction, org: argparse._SubParsersAction) -> None:
    from . import cli

    def add(group: argparse._SubParsersAction, name: str, help_text: str, func, *args: tuple) -> None:
        p = group.add_parser(name, help=help_text)
        for names, kwargs in args:
            p.add_argument(*names, **kwargs)
        cli._add_storage_args(p)
        p.set_defaults(func=func)

    add(
        user,
        "disable",
        "refuse every token of a user from the next request on",
        cmd_user_disable,
        (("name",), {}),
    )
    add(user, "enable", "accept a disabled user's tokens again", cmd_user_enable, (("name",), {}))
    add(
        user,
        "delete",
        "delete a user with its tokens, memberships, likes and access requests",
        cmd_user_delete,
        (("name",), {}),
        (
            ("--with-repos",),
            {"action": "store_true", "help": "also delete the repos of the user's namespace"},
        ),
    )
    role_help = "read, contributor (writes the repos it created), write or admin (also manages the members)"
    add(
        org,
        "set-role",
        "add a member with a role, or change a member's role",
        cmd_org_set_role,
        (("org",), {}),
        (("user",), {}),
        (("role",), {"choices": ("read", "contributor", "write", "admin"), "help": role_help}),
    )
    add(
        org,
        "remove-member",
        "remove a user from an organization",
        cmd_org_remove_member,
        (("org",), {}),
        (("user",), {}),
    )
    add(
        org, "members", "list the members of an organization and their roles", cmd_org_members, (("org",), {})
    )


def _run(args: argparse.Namespace, fn) -> int:
    from . import cli

    return cli._run_admin(args, fn)


def cmd_user_disable(args: argparse.Namespace) -> int:
    from .domain.accounts import set_disabled

    def fn(db):
        set_disabled(db, args.name, True)
        print(
            f"disabled user {args.name!r}: its tokens are refused from the next request on", file=sys.stderr
        )

    return _run(args, fn)


def cmd_user_enable(args: argparse.Namespace) -> int:
    from .domain.accounts import set_disabled

    def fn(db):
        set_disabled(db, args.name, False)
        print(f"enabled user {args.name!r}", file=sys.stderr)

    return _run(args, fn)


def cmd_user_delete(args: argparse.Namespace) -> int:
    from .domain.accounts import delete_user

    def fn(db):
        delete_user(db, args.name, with_repos=args.with_repos)
        print(f"deleted user {args.name!r}", file=sys.stderr)

    return _run(args, fn)


def cmd_org_set_role(args: argparse.Namespace) -> int:
    from .domain.accounts import set_member_role

    def fn(db):
        set_member_role(db, args.org, args.user, args.role)
        print(f"{args.user!r} is now {args.role!r} in {args.org!r}", file=sys.stderr)

    return _run(args, fn)


def cmd_org_remove_member(args: argparse.Namespace) -> int:
    from .domain.accounts import remove_member

    def fn(db):
        remove_member(db, args.org, args.user)
        print(f"removed {args.user!r} from {args.org!r}", file=sys.stderr)

    return _run(args, fn)


def cmd_org_members(args: argparse.Namespace) -> int:
    from .domain.accounts import org_members

    return _run(
        args, lambda db: "\n".join(f"{acc.name}\t{role}" for acc, role in org_members(db, args.org)) or None
    )
