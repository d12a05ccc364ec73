"""``GET /v1/search`` and ``GET /v1/items/{sku}/similar``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from streamrec.serving.api_state import ApiState, api_state
from streamrec.serving.json_response import OrjsonResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_class=OrjsonResponse)
async def search(
    q: Annotated[str, Query(min_length=1, max_length=512, description="the query")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(max_length=512,
                                          description='a category path prefix, "A > B"')] = None,
    rewrite: Annotated[bool, Query(description="let the query-rewrite cascade run "
                                   "(when enabled); false runs the query as typed")] = True,
    state: ApiState = Depends(api_state),
) -> OrjsonResponse:
    """Hybrid search. ``rung`` says which step of the no-empty-page ladder served
    (``hybrid`` is the normal answer); ``rewritten`` is true when the query that ran
    differs from the one sent (spelling correction, or the rewrite cascade, whose tier is
    ``rewrite_tier`` and whose route and attempts are in ``rewrite``)."""
    if not q.strip():
        raise HTTPException(422, "q must contain a word")
    outcome = await state.search.search(q.strip(), k, category, rewrite=rewrite)
    cascade = outcome.rewrite or {}
    return OrjsonResponse({
        "query": q,
        "k": k,
        "category": category,
        "rung": outcome.rung,
        "fallback": outcome.rung != "hybrid",
        "rewritten": (outcome.corrected_query is not None and outcome.rung != "hybrid")
        or bool(cascade.get("rewritten")),
        "rewrite_tier": cascade.get("tier") if cascade.get("rewritten") else None,
        "rewrite": outcome.rewrite,
        "executed_query": outcome.query,
        "served_category": outcome.category,
        "category_inferred": outcome.category_inferred,
        "reranked": bool(outcome.rerank and outcome.rerank["applied"]),
        "rerank": outcome.rerank,
        "items": outcome.items,
        "timings_ms": outcome.timings_ms,
    })


@router.get("/items/{sku}/similar")
async def similar(
    sku: str,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    state: ApiState = Depends(api_state),
) -> dict[str, Any]:
    items = await state.search.similar(sku, k)
    if items is None:
        raise HTTPException(404, f"sku {sku!r} is not in the index")
    return {"sku": sku, "k": k, "items": items}
