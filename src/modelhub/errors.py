"""The exception tree shared by the client, the mixins and the CLI.

Names match the official ``huggingface_hub`` ones where those exist, so ``except`` clauses written for it keep
working after swapping the import. Every error says what was wrong, with which input, and what to do.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Root of every error modelhub raises on purpose."""


class HFValidationError(HubError, ValueError):
    """An argument is malformed (repo id, path in repo, revision...), detected before any network call."""


class OfflineModeIsEnabled(HubError, ConnectionError):
    """A network call was needed while ``HF_HUB_OFFLINE`` is set."""


class HubConnectionError(HubError, ConnectionError):
    """The hub could not be reached (DNS, refused connection, timeout) even after retries."""


class HfHubHTTPError(HubError, OSError):
    """The hub answered with an HTTP error.

    ``response`` is the HTTP response (an ``httpx.Response`` on the client side), ``server_message`` the message
    the server put in its JSON body / ``X-Error-Message`` header, ``request_id`` its ``X-Request-Id`` if any.
    """

    def __init__(
        self,
        message: str,
        response: Any = None,
        *,
        server_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.response = response
        self.server_message = server_message
        self.request_id = request_id

    @property
    def status_code(self) -> int | None:
        return getattr(self.response, "status_code", None)


class BadRequestError(HfHubHTTPError, ValueError):
    """400: the hub rejected the request's content."""


class UnauthorizedError(HfHubHTTPError):
    """401: the token is missing, invalid or expired."""


class ForbiddenError(HfHubHTTPError):
    """403: the token is valid but may not do this (read-only token, not a member of the organization...)."""


class RepositoryNotFoundError(HfHubHTTPError):
    """The repo does not exist, or it is private and the token cannot see it."""


class GatedRepoError(RepositoryNotFoundError):
    """The repo is gated and the token has not been granted access."""


class DisabledRepoError(HfHubHTTPError):
    """The repo has been disabled by its owner or the hub's admins."""


class RevisionNotFoundError(HfHubHTTPError):
    """The branch, tag, commit or ``refs/pr/N`` does not exist in the repo."""


class ConflictError(HfHubHTTPError):
    """409/412: the resource exists already, or the branch moved since ``parent_commit``."""


class EntryNotFoundError(HubError):
    """A file is not in the repo at that revision (remote) or not in the local cache (local)."""


class RemoteEntryNotFoundError(HfHubHTTPError, EntryNotFoundError):
    """The hub says the file does not exist at that revision."""

    commit: str | None = None  # the commit the hub looked in (its X-Repo-Commit header), when it said


class LocalEntryNotFoundError(EntryNotFoundError, FileNotFoundError, ValueError):
    """The file is needed from the local cache (offline, ``local_files_only``, hub unreachable) but is not there."""


class FileMetadataError(HubError, OSError):
    """The hub's answer for a file lacks what a download needs (commit id, ETag)."""


class CorruptedFileError(HubError, OSError):
    """A file's content does not match its expected size or hash (truncated download, corrupted cache blob)."""


class CorruptedCheckpointError(HubError, ValueError):
    """A weights file cannot be read (truncated or not the format its name says); nothing was loaded."""


class CardMetadataError(HubError, ValueError):
    """A model card's YAML front matter cannot be parsed, or is not a mapping."""


class KerasModelNotFoundError(HubError, FileNotFoundError):
    """A directory or repo holds no Keras model layout (``model.keras``, a SavedModel, a Keras 3 directory)."""


class DiskSpaceError(HubError, OSError):
    """Not enough disk space for a download (checked before, or the disk filled up); no partial file is kept."""


class UntrustedPickleError(HubError, ValueError):
    """Loading a pickle (which runs code) from a hub was refused: the caller did not say they trust the repo."""


class RevisionResolutionError(HubError):
    """``resolve_revision``: the hub could not be reached (or offline mode is on) and the cache has no commit
    recorded for the revision."""


class IncompleteSnapshotError(LocalEntryNotFoundError):
    """Offline (or with the hub down), a cached snapshot lacks files the call asked for."""


class CacheNotFound(HubError, FileNotFoundError):
    """``scan_cache_dir``: there is no cache directory at that path."""

    def __init__(self, msg: str, cache_dir: Any = None) -> None:
        super().__init__(msg)
        self.cache_dir = cache_dir


class CorruptedCacheException(HubError):
    """``scan_cache_dir``: a folder of the cache is not laid out as a cached repo."""


class LocalTokenNotFoundError(UnauthorizedError):
    """A token was required (``token=True``) but none is configured (HF_TOKEN, the token file); an OSError as
    upstream's, and an UnauthorizedError as modelhub raised before."""


__all__ = [
    name for name, value in globals().items() if isinstance(value, type) and issubclass(value, Exception)
]
