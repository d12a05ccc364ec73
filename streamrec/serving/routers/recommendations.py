"""``GET /v1/recommendations/{user_id}``: the recommendation pipeline, logged as an impression."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from streamrec.recs.recommendation_state import RecommendationRequest
from streamrec.serving.api_state import ApiState, api_state
from streamrec.serving.json_response import OrjsonResponse

router = APIRouter(prefix="/v1", tags=["recommendations"])


@router.get("/recommendations/{user_id}", response_class=OrjsonResponse)
async def recommendations(
    user_id: str,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(max_length=512)] = None,
    context_sku: Annotated[str | None, Query(max_length=512,
                                             description="the item being viewed")] = None,
    state: ApiState = Depends(api_state),
) -> OrjsonResponse:
    """Reranked personal recommendations. ``served_from`` is ``cache`` (the user's candidates,
    refreshed by their events) or ``fallback`` (trending; a refresh is then requested)."""
    result = await state.recommender.recommend(
        RecommendationRequest(user_id, k, category, context_sku))
    if result.refresh_requested:
        await state.refresh_requester.request(user_id)  # one RPUSH: cheaper than a task
    items = [{"sku": item.sku, "position": position, "score": item.score,
              "title": item.title, "reason": item.reason, "source": item.source,
              "sources": list(item.sources)} for position, item in enumerate(result.items)]
    request_id = state.impressions.log(
        user_id, "recommendations", items, [item.features for item in result.items],
        result.feature_names)
    return OrjsonResponse({
        "user_id": user_id,
        "request_id": request_id,
        "variant": state.impressions.variant,
        "served_from": result.served_from,
        "refresh_requested": result.refresh_requested,
        "generated_at_ms": result.generated_at_ms,
        "items": items,
        "timings_ms": result.timings_ms,
    })
