"""Small routes the official client calls: health, telemetry (accepted and dropped), agent-harnesses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from ..._version import __version__

router = APIRouter()


@router.get("/api/health", tags=["misc"])
async def health() -> dict[str, str]:  # on the loop on purpose: it measures that the loop is free
    return {"status": "ok", "version": __version__}


@router.get("/api/agent-harnesses", tags=["misc"])
def agent_harnesses() -> dict[str, Any]:
    return {"standardEnvVars": [], "harnesses": {}}


@router.head("/api/telemetry/{rest:path}", tags=["misc"])
@router.post("/api/telemetry/{rest:path}", tags=["misc"])
def telemetry(rest: str) -> Response:
    return Response(status_code=200)
