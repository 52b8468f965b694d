"""Client commands of the ``modelhub`` CLI: login, logout, whoami, repo, upload, download, ls, cache, env.

``register(subparsers)`` only builds argparse parsers; each command imports what it needs when it runs, so
``modelhub --help`` stays fast. Results go to stdout, errors to stderr; exit code 0 on success, 1 on a hub or
input error (printed by ``modelhub.cli.main``), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

EPILOG_ENV = (
    "Environment: HF_ENDPOINT (hub URL), HF_TOKEN (token), HF_HOME / HF_HUB_CACHE (cache),\nHF_HUB_OFFLINE=1 (no "
    "network), HF_HUB_DISABLE_PROGRESS_BARS=1."
)


def _fail_cleanly(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Local input errors (missing file, bad argument) become an ``error:`` line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        from ..errors import HubError

        try:
            return func(args)
        except HubError:
            raise
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError, TypeError) as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1

    return wrapper


def _add_common(p: argparse.ArgumentParser, *, repo_type: bool = True, token: bool = True) -> None:
    if repo_type:
        p.add_argument(
            "--repo-type",
            "--type",
            dest="repo_type",
            choices=["model", "dataset", "space"],
            default=None,
            help="type of the repo (default: model)",
        )
    if token:
        p.add_argument("--token", default=None, help="token to use instead of HF_TOKEN / the stored one")


def register(subparsers: Any) -> None:
    """Add the client commands to the ``modelhub`` parser."""
    p = subparsers.add_parser("login", help="store a hub token (checked with whoami)", epilog=EPILOG_ENV)
    p.add_argument("--token", default=None, help="the token (asked for, hidden, when omitted)")
    p.add_argument(
        "--no-verify", action="store_true", help="store without checking the token against the hub"
    )
    p.set_defaults(func=cmd_login)

    p = subparsers.add_parser("logout", help="forget the stored token(s)")
    p.add_argument("--token-name", default=None, help="forget only this stored token")
    p.set_defaults(func=cmd_logout)

    p = subparsers.add_parser("whoami", help="show the user of the current token")
    _add_common(p, repo_type=False)
    p.set_defaults(func=cmd_whoami)

    repo = subparsers.add_parser("repo", help="create, delete or inspect a repo")
    repo_sub = repo.add_subparsers(dest="repo_command", metavar="ACTION", required=True)
    p = repo_sub.add_parser("create", help="create a repo")
    p.add_argument("repo_id", help="namespace/name, or a bare name for your own namespace")
    p.add_argument("--private", action="store_true", help="make it private")
    p.add_argument("--exist-ok", action="store_true", help="do not fail if it exists already")
    _add_common(p)
    p.set_defaults(func=cmd_repo_create)
    p = repo_sub.add_parser("delete", help="delete a repo (irreversible)")
    p.add_argument("repo_id", help="the repo, as namespace/name (e.g. alice/my-model)")
    p.add_argument("--missing-ok", action="store_true", help="do not fail if it does not exist")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    _add_common(p)
    p.set_defaults(func=cmd_repo_delete)
    p = repo_sub.add_parser("info", help="show a repo's metadata as JSON")
    p.add_argument("repo_id", help="the repo, as namespace/name (e.g. alice/my-model)")
    p.add_argument("--revision", default=None, help="branch, tag, commit or refs/pr/N (default: main)")
    _add_common(p)
    p.set_defaults(func=cmd_repo_info)

    p = subparsers.add_parser(
        "upload",
        help="upload a file or folder in one commit",
        description="Upload LOCAL_PATH (a file or a folder) to REPO_ID at PATH_IN_REPO (default: the file's name, "
        "or the repo root for a folder). The repo is created if missing.",
        epilog="examples:\n  modelhub upload alice/my-model ./model\n"
        "  modelhub upload alice/my-model weights.safetensors --revision dev\n"
        "  modelhub upload alice/my-model ./model --include '*.json' '*.safetensors' --delete '*.bin' --create-pr\n\n"
        + EPILOG_ENV,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("repo_id", help="the repo, as namespace/name (e.g. alice/my-model)")
    p.add_argument("local_path", help="the file or folder to upload")
    p.add_argument(
        "path_in_repo",
        nargs="?",
        default=None,
        help="where it goes in the repo (default: the file's name, or the root for a folder)",
    )
    p.add_argument("--revision", default=None, help="branch to commit to (or refs/pr/N)")
    p.add_argument("--private", action="store_true", help="create the repo private if it does not exist")
    p.add_argument("--include", nargs="*", default=None, help="glob patterns of files to upload (folders)")
    p.add_argument("--exclude", nargs="*", default=None, help="glob patterns of files to skip (folders)")
    p.add_argument(
        "--delete", nargs="*", default=None, help="glob patterns of remote files to delete (folders)"
    )
    p.add_argument("--commit-message", default=None, help="summary line of the commit")
    p.add_argument("--commit-description", default=None, help="longer description of the commit")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    _add_common(p)
    p.set_defaults(func=cmd_upload)

    p = subparsers.add_parser(
        "download",
        help="download files or a whole repo into the cache (or a folder)",
        description="Download FILES of REPO_ID (all files when none are named) and print the local path.",
        epilog="examples:\n  modelhub download alice/my-model config.json\n"
        "  modelhub download alice/my-model --revision v1 --local-dir ./my-model\n"
        "  modelhub download alice/my-model --include '*.safetensors' --exclude 'old/*'\n\n" + EPILOG_ENV,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("repo_id", help="the repo, as namespace/name (e.g. alice/my-model)")
    p.add_argument("files", nargs="*", help="files (or glob patterns) to download; none: the whole repo")
    p.add_argument("--revision", default=None, help="branch, tag, commit or refs/pr/N")
    p.add_argument("--local-dir", default=None, help="download into this folder instead of the cache")
    p.add_argument(
        "--cache-dir", default=None, help="cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)"
    )
    p.add_argument("--include", nargs="*", default=None, help="glob patterns (whole-repo downloads)")
    p.add_argument("--exclude", nargs="*", default=None, help="glob patterns (whole-repo downloads)")
    p.add_argument("--force-download", action="store_true", help="download again even if cached")
    p.add_argument("--max-workers", type=int, default=8, help="parallel downloads (default: 8)")
    _add_common(p)
    p.set_defaults(func=cmd_download)

    p = subparsers.add_parser("ls", help="list the files of a repo")
    p.add_argument("repo_id", help="the repo, as namespace/name (e.g. alice/my-model)")
    p.add_argument("path", nargs="?", default=None, help="folder inside the repo")
    p.add_argument("--revision", default=None, help="branch, tag, commit or refs/pr/N (default: main)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(p)
    p.set_defaults(func=cmd_ls)

    cache = subparsers.add_parser("cache", help="inspect or clean the local cache")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    p = cache_sub.add_parser("ls", help="list cached repos with size and refs")
    p.add_argument(
        "--cache-dir", default=None, help="cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)"
    )
    p.set_defaults(func=cmd_cache_ls)
    p = cache_sub.add_parser(
        "prune",
        help="delete partial downloads, snapshots no ref points to and unused blobs",
    )
    p.add_argument(
        "--cache-dir", default=None, help="cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)"
    )
    p.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    p.add_argument(
        "--keep-unreferenced", action="store_true", help="keep snapshots that no branch/tag points to"
    )
    p.add_argument("--verify", action="store_true", help="also re-hash blobs and delete corrupted ones")
    p.set_defaults(func=cmd_cache_prune)
    p = cache_sub.add_parser("verify", help="re-hash every cached file; exit 1 if one is corrupted")
    p.add_argument(
        "--cache-dir", default=None, help="cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub)"
    )
    p.set_defaults(func=cmd_cache_verify)

    p = subparsers.add_parser("env", help="print the configuration modelhub sees (paths, endpoint, token...)")
    p.set_defaults(func=cmd_env)


def _api(args: argparse.Namespace) -> Any:
    from .api import HubApi

    return HubApi(token=getattr(args, "token", None))


# --- commands ----------------------------------------------------------------------------------------------------------
@_fail_cleanly
def cmd_login(args: argparse.Namespace) -> int:
    from ._login import login

    info = login(args.token, verify=not args.no_verify)
    who = f" as {info.get('name')}" if info else ""
    print(f"Logged in{who}; token saved.")
    return 0


@_fail_cleanly
def cmd_logout(args: argparse.Namespace) -> int:
    from ._login import logout

    logout(args.token_name)
    print("Logged out." if args.token_name is None else f"Forgot token {args.token_name!r}.")
    return 0


@_fail_cleanly
def cmd_whoami(args: argparse.Namespace) -> int:
    info = _api(args).whoami()
    print(info.get("name"))
    orgs = [o.get("name") for o in info.get("orgs") or []]
    if orgs:
        print("orgs: " + ", ".join(orgs))
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    if role:
        print(f"token role: {role}")
    return 0


@_fail_cleanly
def cmd_repo_create(args: argparse.Namespace) -> int:
    url = _api(args).create_repo(
        args.repo_id, private=args.private or None, repo_type=args.repo_type, exist_ok=args.exist_ok
    )
    print(url)
    return 0


@_fail_cleanly
def cmd_repo_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            print("error: refusing to delete without confirmation: pass --yes", file=sys.stderr)
            return 2
        answer = input(f"Delete {args.repo_id} for good? Type its id to confirm: ")
        if answer.strip() != args.repo_id:
            print("Not deleted.", file=sys.stderr)
            return 1
    _api(args).delete_repo(args.repo_id, repo_type=args.repo_type, missing_ok=args.missing_ok)
    print(f"Deleted {args.repo_id}")
    return 0


@_fail_cleanly
def cmd_repo_info(args: argparse.Namespace) -> int:
    info = _api(args).repo_info(
        args.repo_id, revision=args.revision, repo_type=args.repo_type, files_metadata=True
    )
    print(json.dumps(info.raw, indent=2, default=str))
    return 0


@_fail_cleanly
def cmd_upload(args: argparse.Namespace) -> int:
    from pathlib import Path

    api = _api(args)
    local = Path(args.local_path)
    if not local.exists():
        raise FileNotFoundError(f"{args.local_path!r} does not exist: give a file or a folder to upload.")
    api.create_repo(args.repo_id, private=args.private or None, repo_type=args.repo_type, exist_ok=True)
    if local.is_dir():
        info = api.upload_folder(
            repo_id=args.repo_id,
            folder_path=local,
            path_in_repo=args.path_in_repo,
            repo_type=args.repo_type,
            revision=args.revision,
            allow_patterns=args.include,
            ignore_patterns=args.exclude,
            delete_patterns=args.delete,
            commit_message=args.commit_message,
            commit_description=args.commit_description,
            create_pr=args.create_pr or None,
        )
    else:
        if args.include or args.exclude or args.delete:
            raise ValueError("--include/--exclude/--delete apply to folder uploads only.")
        info = api.upload_file(
            path_or_fileobj=local,
            path_in_repo=args.path_in_repo or local.name,
            repo_id=args.repo_id,
            repo_type=args.repo_type,
            revision=args.revision,
            commit_message=args.commit_message,
            commit_description=args.commit_description,
            create_pr=args.create_pr or None,
        )
    print(info.pr_url or info.commit_url)
    return 0


@_fail_cleanly
def cmd_download(args: argparse.Namespace) -> int:
    from .download import hub_download, snapshot_download

    common = dict(
        repo_type=args.repo_type,
        revision=args.revision,
        cache_dir=args.cache_dir,
        local_dir=args.local_dir,
        force_download=args.force_download,
        token=args.token,
    )
    if len(args.files) == 1 and not (args.include or args.exclude):
        print(hub_download(args.repo_id, args.files[0], **common))
        return 0
    allow = [*args.files, *(args.include or [])] or None  # named files and --include patterns together
    print(
        snapshot_download(
            args.repo_id,
            allow_patterns=allow,
            ignore_patterns=args.exclude,
            max_workers=args.max_workers,
            **common,
        )
    )
    return 0


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@_fail_cleanly
def cmd_ls(args: argparse.Namespace) -> int:
    from .types import RepoFile

    entries = list(
        _api(args).list_repo_tree(
            args.repo_id, args.path, recursive=True, revision=args.revision, repo_type=args.repo_type
        )
    )
    files = [e for e in entries if isinstance(e, RepoFile)]
    if args.json:
        print(
            json.dumps([{"path": f.path, "size": f.size, "lfs": f.lfs is not None} for f in files], indent=2)
        )
        return 0
    for f in files:
        print(f"{_human(f.size):>10}  {'LFS ' if f.lfs else '    '}{f.path}")
    return 0


@_fail_cleanly
def cmd_cache_ls(args: argparse.Namespace) -> int:
    import datetime

    from .cache_layout import resolve_cache_dir, scan_cache

    repos = scan_cache(args.cache_dir)
    print(f"cache: {resolve_cache_dir(args.cache_dir)}")
    if not repos:
        print("(empty)")
        return 0
    print(f"{'REPO':<45} {'TYPE':<8} {'SIZE':>10} {'FILES':>6}  {'MODIFIED':<16}  REFS")
    for r in repos:
        when = datetime.datetime.fromtimestamp(r.last_modified).strftime("%Y-%m-%d %H:%M")
        refs = ", ".join(sorted(r.refs)) or "-"
        print(
            f"{r.repo_id:<45} {r.repo_type:<8} {_human(r.size_on_disk):>10} {r.nb_files:>6}  {when:<16}  {refs}"
        )
    print(f"total: {_human(sum(r.size_on_disk for r in repos))} in {len(repos)} repo(s)")
    return 0


@_fail_cleanly
def cmd_cache_prune(args: argparse.Namespace) -> int:
    from .cache_layout import apply_prune, plan_prune

    plan = plan_prune(args.cache_dir, keep_unreferenced=args.keep_unreferenced, verify=args.verify)
    for label, items in (
        ("partial download", plan.incomplete),
        ("unreferenced snapshot", plan.unreferenced_snapshots),
        ("unused blob", plan.orphan_blobs),
        ("corrupted blob", plan.corrupted_blobs),
    ):
        for path in items:
            print(f"{'would delete' if args.dry_run else 'deleting'} {label}: {path}")
    freed = plan.freed_bytes()
    if not args.dry_run:
        apply_prune(plan)
    print(f"{'would free' if args.dry_run else 'freed'} {_human(freed)} ({len(plan.paths)} item(s))")
    return 0


@_fail_cleanly
def cmd_cache_verify(args: argparse.Namespace) -> int:
    from .cache_layout import verify_cache

    bad = verify_cache(args.cache_dir)
    for path in bad:
        print(f"corrupted: {path}", file=sys.stderr)
    print(
        f"{len(bad)} corrupted blob(s)"
        + (": run `modelhub cache prune --verify` to remove them" if bad else "")
    )
    return 1 if bad else 0


def cmd_env(args: argparse.Namespace) -> int:
    import platform

    from .. import constants
    from .._version import __version__
    from .auth import get_token

    token = get_token()
    rows = {
        "modelhub version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "endpoint (HF_ENDPOINT)": constants.endpoint(),
        "HF_HOME": str(constants.hf_home()),
        "hub cache (HF_HUB_CACHE)": str(constants.hub_cache_dir()),
        "token file": str(constants.token_path()),
        "token": "set (" + token[:4] + "...)" if token else "not set",
        "offline (HF_HUB_OFFLINE)": str(constants.is_offline()),
        "progress bars disabled": str(constants.progress_bars_disabled()),
        "implicit token disabled": str(constants.implicit_token_disabled()),
        "etag timeout / download timeout": f"{constants.etag_timeout()} s / {constants.download_timeout()} s",
    }
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0
