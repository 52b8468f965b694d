"""``modelhub`` command line: dispatches to the client commands and the server commands.

Each side registers its own sub-commands (``modelhub.client.cli.register`` and ``modelhub.server.cli.register``),
so this module stays a thin switchboard and the server's heavy imports happen only for ``serve`` / ``admin``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelhub",
        description="Save, share and load machine-learning models; run a self-hosted model hub.",
    )
    parser.add_argument("--version", action="version", version=f"modelhub {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug information to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from .client import cli as client_cli
    from .server import cli as server_cli

    client_cli.register(sub)
    server_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # one line per HTTP request is debug noise for a CLI user
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .errors import HubError

    try:
        return int(args.func(args) or 0)
    except HubError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
