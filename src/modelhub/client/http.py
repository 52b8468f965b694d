"""The one HTTP layer of the client: session, headers, retries with backoff, and error mapping.

Every request of ``modelhub.client`` goes through :func:`request` or :func:`stream`, so the user agent, the
``Authorization`` header, proxies, offline mode, retries and the mapping of hub errors to ``modelhub.errors`` are
decided in one place.

Retries: connection errors and 408/429/500/502/503/504 are retried with exponential backoff (1, 2, 4, 8, 8 s by
default, or ``Retry-After``); other 4xx never are. A request that may have had an effect on the server (a POST
that is not marked ``idempotent``) is only retried when the connection could not even be opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .. import constants
from .._version import __version__
from ..errors import (
    BadRequestError,
    ConflictError,
    DisabledRepoError,
    ForbiddenError,
    GatedRepoError,
    HfHubHTTPError,
    HubConnectionError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    UnauthorizedError,
)
from .auth import token_to_send

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
ProxiesT = Mapping[str, str] | str | None

_clients: dict[Any, httpx.Client] = {}
_clients_lock = threading.Lock()


# --- counters (benchmarks and tests read them to prove how many requests a call sequence costs) ---------------
@dataclass
class RequestStats:
    count: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str) -> None:
        with self._lock:
            self.count += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self.by_method = {}


stats = RequestStats()


def _max_retries() -> int:
    return int(os.environ.get("MODELHUB_MAX_RETRIES", "5"))


def _backoff_base() -> float:
    return float(os.environ.get("MODELHUB_RETRY_BACKOFF", "1"))


# --- session ------------------------------------------------------------------------------------------------------
def _proxy_mounts(proxies: ProxiesT) -> dict[str, httpx.HTTPTransport] | None:
    if proxies is None:
        return None
    if isinstance(proxies, str):
        proxies = {"http": proxies, "https": proxies}
    mounts = {}
    for scheme, url in proxies.items():
        key = scheme if scheme.endswith("://") else f"{scheme}://"
        if key not in ("http://", "https://", "all://"):
            raise ValueError(
                f"Unsupported proxy key {scheme!r}: use 'http' and/or 'https', e.g. {{'https': url}}."
            )
        mounts[key] = httpx.HTTPTransport(proxy=url, retries=0)
    return mounts


def get_client(proxies: ProxiesT = None) -> httpx.Client:
    """A shared ``httpx.Client`` (one per proxy setting); thread-safe, keeps connections alive."""
    key = tuple(sorted(proxies.items())) if isinstance(proxies, Mapping) else proxies
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(
                mounts=_proxy_mounts(proxies),
                follow_redirects=False,
                timeout=httpx.Timeout(60.0, connect=10.0),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            )
            _clients[key] = client
        return client


def close_clients() -> None:
    """Close every pooled connection (tests that restart a server on the same port call this)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def user_agent(
    library_name: str | None = None,
    library_version: str | None = None,
    extra: Mapping[str, str] | str | None = None,
) -> str:
    parts = []
    if library_name:
        parts.append(f"{library_name}/{library_version or 'unknown'}")
    parts += [f"modelhub/{__version__}", f"python/{platform.python_version()}", f"httpx/{httpx.__version__}"]
    if isinstance(extra, str):
        parts.append(extra)
    elif extra:
        parts += [f"{k}/{v}" for k, v in extra.items()]
    origin = os.environ.get("HF_HUB_USER_AGENT_ORIGIN")
    if origin:
        parts.append(f"origin/{origin}")
    return "; ".join(parts)


def build_headers(
    token: str | bool | None = None,
    *,
    library_name: str | None = None,
    library_version: str | None = None,
    user_agent_extra: Mapping[str, str] | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers of a hub call: user agent and (unless ``token=False``) ``Authorization``.

    The per-request ``X-Amzn-Trace-Id`` is added when each request is sent (headers are reused across calls).
    """
    result = {"user-agent": user_agent(library_name, library_version, user_agent_extra)}
    secret = token_to_send(token)
    if secret:
        result["authorization"] = f"Bearer {secret}"
    if headers:
        result.update(headers)
    return result


# --- URLs -------------------------------------------------------------------------------------------------------
def quote_segment(value: str) -> str:
    """Percent-encode a path parameter with no safe character (``refs/pr/1`` -> ``refs%2Fpr%2F1``)."""
    return quote(value, safe="")


def quote_path(value: str) -> str:
    """Percent-encode a file path, keeping ``/``."""
    return quote(value, safe="/")


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port or _default_port(pa.scheme)) == (
        pb.scheme,
        pb.hostname,
        pb.port or _default_port(pb.scheme),
    )


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


# --- errors -------------------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What a request was about, to make error messages say which input was wrong."""

    repo_id: str | None = None
    repo_type: str | None = None
    revision: str | None = None
    filename: str | None = None
    endpoint: str | None = None
    action: str | None = None


def server_message(response: httpx.Response) -> str | None:
    messages = []
    header = response.headers.get("x-error-message")
    if header:
        messages.append(header)
    try:
        body = response.json()
    except Exception:
        body = None
        ctype = response.headers.get("content-type", "")
        if response.content and "html" not in ctype:
            with contextlib.suppress(Exception):
                text = response.text.strip()
                if text:
                    messages.append(text[:500])
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, list):
            messages += [str(e) for e in error]
        elif error:
            messages.append(str(error))
        if body.get("error_description"):
            messages.append(str(body["error_description"]))
        for item in body.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                messages.append(str(item["message"]))
    unique: list[str] = []
    for m in messages:
        if m not in unique:
            unique.append(m)
    return " ".join(unique) if unique else None


def _repo_label(ctx: Context) -> str:
    prefix = "" if ctx.repo_type in (None, "model") else f"{ctx.repo_type} "
    return f"{prefix}{ctx.repo_id!r}"


_REPO_API_PATH = re.compile(r"^/api/(models|datasets|spaces)/.+|/resolve/")


def _is_repo_url_on_https(url: httpx.URL) -> bool:
    """A repo API or ``/resolve`` URL on https: where the Hub's bare 401 means "no such repo (for you)"."""
    return url.scheme == "https" and bool(_REPO_API_PATH.search(url.path))


def raise_for_status(response: httpx.Response, ctx: Context | None = None) -> None:
    """Raise the ``modelhub.errors`` class matching the hub's answer (``X-Error-Code`` first, then status)."""
    if response.is_success:
        return
    if response.is_redirect:
        return
    ctx = ctx or Context()
    with contextlib.suppress(httpx.ResponseNotRead, httpx.StreamError):
        if not response.is_closed:
            response.read()
    code = response.headers.get("x-error-code")
    server_msg = server_message(response)
    request_id = response.headers.get("x-request-id")
    status = response.status_code
    endpoint = ctx.endpoint or f"{response.request.url.scheme}://{response.request.url.netloc.decode()}"
    sent_token = "authorization" in response.request.headers
    where = f"{response.request.method} {response.request.url}"
    detail = f" (server said: {server_msg})" if server_msg else ""
    detail += f" [request id {request_id}]" if request_id else ""
    kwargs = {"server_message": server_msg, "request_id": request_id}

    if code == "RevisionNotFound":
        raise RevisionNotFoundError(
            f"Revision {ctx.revision!r} not found in {_repo_label(ctx)} on {endpoint}: check the branch, tag, commit "
            f"id or refs/pr/N (list them with `list_repo_refs`).{detail}",
            response,
            **kwargs,
        )
    if code == "EntryNotFound":
        where_in = f"{_repo_label(ctx)} at revision {ctx.revision or 'main'!r} on {endpoint}"
        head = (  # a commit names many paths: the server's message says which one
            f"File {ctx.filename!r} not found in {where_in}"
            if ctx.filename
            else f"A path named in the request does not exist in {where_in}"
        )
        raise RemoteEntryNotFoundError(
            f"{head}: check the path (list files with `list_repo_files`).{detail}",
            response,
            **kwargs,
        )
    if code == "GatedRepo":
        raise GatedRepoError(
            f"{_repo_label(ctx)} on {endpoint} is gated: request access on its page, then use a token that has it.{detail}",
            response,
            **kwargs,
        )
    if response.headers.get("x-error-message") == "Access to this resource is disabled.":
        raise DisabledRepoError(f"{_repo_label(ctx)} on {endpoint} is disabled.{detail}", response, **kwargs)
    # huggingface.co answers 401 without an error code for a repo the caller cannot see (protocol section 7),
    # unless the token itself was rejected
    if code == "RepoNotFound" or (
        status == 401
        and code is None
        and _is_repo_url_on_https(response.request.url)
        and response.headers.get("x-error-message") != "Invalid credentials in Authorization header"
    ):
        hint = (
            "it is private and your token cannot see it"
            if sent_token
            else "it is private: pass a token or run `modelhub login`"
        )
        raise RepositoryNotFoundError(
            f"Repository {_repo_label(ctx)} not found on {endpoint} (or {hint}).{detail}", response, **kwargs
        )
    if status == 401:
        if sent_token:
            msg = f"The token was rejected by {endpoint} (invalid or expired): run `modelhub login` with a valid token."
        else:
            msg = (
                f"{endpoint} needs a token for {where}: run `modelhub login`, set HF_TOKEN or pass token=..."
            )
        raise UnauthorizedError(msg + detail, response, **kwargs)
    if status == 403:
        action = ctx.action or where
        raise ForbiddenError(
            f"Forbidden: your token may not {action}"
            f"{' on ' + _repo_label(ctx) if ctx.repo_id else ''} (read-only token, or not a member of the "
            f"namespace): use a token with write access to it.{detail}",
            response,
            **kwargs,
        )
    if status == 400:
        raise BadRequestError(f"Bad request to {where}{detail}", response, **kwargs)
    if status in (409, 412):
        what = f"{ctx.action} on {_repo_label(ctx)}" if ctx.action and ctx.repo_id else where
        raise ConflictError(
            f"Conflict: could not {what} (it exists already, or the branch moved since parent_commit).{detail}",
            response,
            **kwargs,
        )
    if (
        status == 404
        and ctx.filename is not None
        and code is None
        and "/resolve/" in str(response.request.url)
    ):
        raise RemoteEntryNotFoundError(
            f"File {ctx.filename!r} not found in {_repo_label(ctx)} at revision {ctx.revision or 'main'!r}.{detail}",
            response,
            **kwargs,
        )
    if status == 429:
        reset = response.headers.get("retry-after") or response.headers.get("ratelimit")
        raise HfHubHTTPError(
            f"Rate limited by {endpoint} on {where}; retry later{f' (reset: {reset})' if reset else ''}.{detail}",
            response,
            **kwargs,
        )
    raise HfHubHTTPError(f"{status} {response.reason_phrase} for {where}{detail}", response, **kwargs)


# --- requests -------------------------------------------------------------------------------------------------------
def retry_delay(attempt: int, response: httpx.Response | None) -> float:
    if response is not None:
        retry_after = response.headers.get("retry-after")
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), 60.0)
    return min(_backoff_base() * (2**attempt), 8 * _backoff_base())


def _check_online(url: str) -> None:
    if constants.is_offline():
        raise OfflineModeIsEnabled(
            f"Cannot reach {url}: offline mode is enabled (HF_HUB_OFFLINE=1). Unset it, or use files already cached."
        )


def _connection_error(exc: Exception, method: str, url: str) -> HubConnectionError:
    host = urlsplit(url).netloc
    err = HubConnectionError(
        f"Could not reach {host} for {method} {url}: {type(exc).__name__}: {exc}. Check HF_ENDPOINT, your network "
        "and proxies, or set HF_HUB_OFFLINE=1 to use only cached files."
    )
    err.__cause__ = exc
    return err


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    json: Any = None,
    content: Any = None,
    data: Any = None,
    timeout: float | httpx.Timeout | None = None,
    proxies: ProxiesT = None,
    follow_redirects: bool = True,
    idempotent: bool | None = None,
    ctx: Context | None = None,
    raise_errors: bool = True,
    max_retries: int | None = None,
) -> httpx.Response:
    """Send one request (retrying as the module docstring says); the body is read; errors are mapped.

    ``max_retries`` overrides ``MODELHUB_MAX_RETRIES`` (0: fail at once, e.g. when a cached copy can answer).
    """
    _check_online(url)
    client = get_client(proxies)
    if idempotent is None:
        idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")

    sent_headers = _with_trace_id(headers)

    def send() -> httpx.Response:  # a callable content makes a fresh body (a new stream) for every attempt
        return client.request(
            method,
            url,
            headers=sent_headers,
            params=params,
            json=json,
            content=content() if callable(content) else content,
            data=data,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=follow_redirects,
        )

    response = _send_with_retries(method, url, send, idempotent=idempotent, max_retries=max_retries)
    if raise_errors:
        raise_for_status(response, ctx)
    return response


def _with_trace_id(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers plus a fresh ``X-Amzn-Trace-Id``: one id per call (kept across its retries), which a hub may
    echo as ``X-Request-Id`` so an error can be found in its logs."""
    return {**(headers or {}), "x-amzn-trace-id": str(uuid.uuid4())}


def _send_with_retries(
    method: str,
    url: str,
    send: Callable[[], httpx.Response],
    *,
    idempotent: bool,
    max_retries: int | None,
) -> httpx.Response:
    """Call ``send`` until it gives a final answer: connection errors and RETRY_STATUSES are retried with backoff
    (a request that may have had an effect only when the connection could not even be opened)."""
    limit = _max_retries() if max_retries is None else max_retries
    attempt = 0
    while True:
        try:
            stats.add(method.upper())
            response = send()
        except httpx.TransportError as exc:
            retryable = idempotent or isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            if not retryable or attempt >= limit:
                raise _connection_error(exc, method, url) from exc
            delay, what = retry_delay(attempt, None), f"failed ({exc})"
        else:
            if response.status_code not in RETRY_STATUSES or not idempotent or attempt >= limit:
                return response
            delay, what = retry_delay(attempt, response), f"answered {response.status_code}"
            response.close()
        logger.warning("%s %s %s; retry %d/%d in %.1fs", method, url, what, attempt + 1, limit, delay)
        attempt += 1
        time.sleep(delay)


def paginate(
    url: str,
    *,
    headers: Mapping[str, str],
    params: Any = None,
    proxies: ProxiesT = None,
    ctx: Context | None = None,
) -> Iterator[Any]:
    """Yield the items of a JSON-array listing, following ``Link: <...>; rel="next"`` pages (protocol 3.1).

    The next URL is requested verbatim (it carries its own query), with the same headers.
    """
    response = request("GET", url, headers=headers, params=params, proxies=proxies, ctx=ctx)
    while True:
        yield from response.json()
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return
        # absolute per the protocol; a relative one (which the official client rejects) is resolved, not fatal
        next_url = str(response.url.join(next_url))
        response = request("GET", next_url, headers=headers, proxies=proxies, ctx=ctx)


@contextlib.contextmanager
def stream(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    proxies: ProxiesT = None,
    ctx: Context | None = None,
    follow_redirects: bool = True,
) -> Iterator[httpx.Response]:
    """Open a streamed response (body not read), retrying the opening like :func:`request`.

    Errors while reading the body are the caller's to handle (downloads resume with ``Range``).
    """
    _check_online(url)
    client = get_client(proxies)
    sent_headers = _with_trace_id(headers)

    def send() -> httpx.Response:
        req = client.build_request(
            method,
            url,
            headers=sent_headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        return client.send(req, stream=True, follow_redirects=follow_redirects)

    response = _send_with_retries(method, url, send, idempotent=True, max_retries=None)
    try:
        raise_for_status(response, ctx)
        yield response
    finally:
        response.close()
