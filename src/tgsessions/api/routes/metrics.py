"""``GET /metrics``: Prometheus text format (scope ``metrics:read`` or ``admin``). No label carries a phone number
or session material: labels are call kinds, verdict kinds and reasons, methods and error codes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tgsessions.api.auth import MetricsRead, RuntimeDep
from tgsessions.api.openapi import errors
from tgsessions.domain.errors import NotFound

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}, **errors(404)},
)
async def metrics(key: MetricsRead, runtime: RuntimeDep) -> Response:
    if runtime.metrics is None:
        raise NotFound("metrics are not enabled in this process")
    body, content_type = await runtime.metrics()
    return Response(content=body, media_type=content_type)
