"""README metadata: ``validate-yaml``, which the official client calls before committing a README.md."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain import frontmatter
from . import _http as h
from .errors import TooLarge, bad_request

router = APIRouter()


MAX_README_CHARS = 4 * 1024 * 1024  # the front matter is bounded by frontmatter.MAX_YAML_CHARS (1 MiB)


@router.post("/api/validate-yaml", tags=["files"])
async def validate_yaml(request: Request) -> Response:
    """Check a README's YAML front matter (the client calls this before committing a README.md)."""
    body = await h.read_json_object(request)
    content = body.get("content")
    if not isinstance(content, str):
        raise bad_request("Missing 'content' (the README.md text) in the request body.")
    if len(content) > MAX_README_CHARS:
        raise TooLarge(
            f"README.md content of {len(content)} characters: at most {MAX_README_CHARS} (4 MiB) can be "
            f"validated, with at most {frontmatter.MAX_YAML_CHARS} characters (1 MiB) of YAML metadata.",
        )
    error = await h.run(frontmatter.check_front_matter, content)  # off the loop: bounded, but CPU work
    if error is not None:
        return h.json_response({"errors": [{"message": error}]}, 400)
    return h.json_response({"errors": [], "warnings": []})
