"""``streamrec rewrite "query"``: what the API's query-rewrite cascade does with a query.

Sends the query to the running API's ``/v1/search`` and shows the router's decision, each
tier tried (rewrite, outcome, reason, tokens, cost, latency), the query that finally ran
and the first results; ``--compare`` also runs it as typed (``rewrite=false``) beside it.
An operator's view of the production path, so it needs the API, not a model of its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from streamrec.settings import load_settings

console = Console()


def _search(api_url: str, query: str, k: int, category: str | None, rewrite: bool
            ) -> dict[str, Any]:
    params: dict[str, Any] = {"q": query, "k": k, "rewrite": str(rewrite).lower()}
    if category:
        params["category"] = category
    response = httpx.get(f"{api_url}/v1/search", params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def _items(answer: dict[str, Any], show: int) -> str:
    return "\n".join(f"{i}. {item['title']} ({item['sku']})"
                     for i, item in enumerate(answer["items"][:show], 1)) or "(none)"


def rewrite(
    query: Annotated[str, typer.Argument(help="the search query")],
    k: Annotated[int, typer.Option(help="results to ask for")] = 10,
    category: Annotated[str | None, typer.Option(help='a category path prefix, "A > B"')]
    = None,
    api_url: Annotated[str | None, typer.Option(help="default: the configured API address")]
    = None,
    compare: Annotated[bool, typer.Option(help="also show the results as typed")] = False,
    show: Annotated[int, typer.Option(help="results to print")] = 5,
) -> None:
    """Show the query-rewrite cascade's route, tiers tried and outcome for one query."""
    settings = load_settings()
    url = (api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    try:
        answer = _search(url, query, k, category, True)
        typed = _search(url, query, k, category, False) if compare else None
    except httpx.HTTPError as exc:
        console.print(f"[red]error:[/red] the API at {url} did not answer: {exc}")
        raise typer.Exit(code=1) from exc
    info = answer.get("rewrite")
    if info is None:
        console.print("the API's rewrite stage is off (STREAMREC_REWRITE_ENABLED=true turns "
                      "it on) or failed; the query ran as typed")
    else:
        console.print(f"route: [bold]{info['route']}[/bold]")
        table = Table("tier", "outcome", "rewrite", "reason", "tokens in/out", "cost USD",
                      "ms")
        for attempt in info["tried"]:
            table.add_row(attempt["tier"], attempt["outcome"], attempt.get("rewrite", ""),
                          attempt.get("reason", ""),
                          f"{attempt.get('tokens_in', 0)}/{attempt.get('tokens_out', 0)}",
                          f"{attempt.get('cost_usd', 0.0):.6f}",
                          f"{attempt.get('latency_ms', 0.0):.1f}")
        if info["tried"]:
            console.print(table)
        served = (f"rewritten by [bold]{info['tier']}[/bold]"
                  + (" (from the cache)" if info["cached"] else "")
                  if info["rewritten"] else "not rewritten")
        console.print(f"outcome: {served}")
    console.print(f"ran: {answer['executed_query']!r}   rung: {answer['rung']}   "
                  f"stage ms: {answer['timings_ms'].get('rewrite', 0.0)}")
    console.print(_items(answer, show))
    if typed is not None:
        console.print(f"\nas typed ({typed['rung']}):")
        console.print(_items(typed, show))
