"""Builds the cascade from ``Settings``: a tier without configuration is simply off.

* cache: ``rewrite_cache_enabled`` and a Redis client;
* deterministic: ``rewrite_deterministic_enabled`` (the catalog speller when given);
* small LLM: ``rewrite_small_base_url`` and ``rewrite_small_model``;
* large LLM: ``rewrite_large_api_key``.

An LLM tier whose SDK is not installed (the optional ``llm`` extra) is off too, with a
warning, so the serving path never needs ``openai`` or ``anthropic`` to start.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from streamrec.redis_keys import RedisKeys
from streamrec.rewrite.cost_budget import CostBudget, ModelPrice
from streamrec.rewrite.deterministic_rewriter import CorrectFn, DeterministicRewriter
from streamrec.rewrite.intent_term_rule import IntentTermRule
from streamrec.rewrite.query_rewrite_cascade import QueryRewriteCascade
from streamrec.rewrite.rewrite_cache import RewriteCache
from streamrec.rewrite.rewrite_prompt import PROMPT_VERSION
from streamrec.rewrite.rewrite_router import RewriteRouter, RewriteRouterConfig
from streamrec.rewrite.rewrite_tier import RewriteTier, TierName
from streamrec.rewrite.rewrite_validator import RewriteValidator
from streamrec.settings import Settings

log = logging.getLogger(__name__)


def _secret(value: object) -> str | None:
    return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]


def build_llm_tiers(settings: Settings) -> list[RewriteTier]:
    tiers: list[RewriteTier] = []
    common = {"max_output_tokens": settings.rewrite_max_output_tokens,
              "catalog": settings.rewrite_catalog_description}
    if settings.rewrite_small_base_url and settings.rewrite_small_model:
        try:
            from streamrec.rewrite.chat_completions_rewriter import ChatCompletionsRewriter

            tiers.append(ChatCompletionsRewriter(
                settings.rewrite_small_base_url, settings.rewrite_small_model,
                _secret(settings.rewrite_small_api_key), settings.rewrite_small_timeout_s,
                **common))
        except ImportError:
            log.warning("small-LLM rewrite tier configured but the openai SDK is missing "
                        "(pip install 'streamrec[llm]'): tier off")
    if settings.rewrite_large_api_key is not None:
        try:
            from streamrec.rewrite.anthropic_messages_rewriter import AnthropicMessagesRewriter

            tiers.append(AnthropicMessagesRewriter(
                settings.rewrite_large_model, _secret(settings.rewrite_large_api_key) or "",
                settings.rewrite_large_timeout_s, settings.rewrite_large_base_url, **common))
        except ImportError:
            log.warning("Claude rewrite tier configured but the anthropic SDK is missing "
                        "(pip install 'streamrec[llm]'): tier off")
    return tiers


def build_rewrite_cascade(settings: Settings, redis: aioredis.Redis | None,
                          correct: CorrectFn | None = None,
                          is_known: Callable[[str], bool] | None = None
                          ) -> QueryRewriteCascade:
    tiers: list[RewriteTier] = []
    if settings.rewrite_deterministic_enabled:
        tiers.append(DeterministicRewriter(correct, settings.rewrite_natural_language_words))
    tiers.extend(build_llm_tiers(settings))
    fingerprint = hashlib.sha1("|".join(
        [PROMPT_VERSION, *(f"{t.name}={t.model}" for t in tiers)]).encode()).hexdigest()[:12]
    cache = (RewriteCache(redis, RedisKeys(settings.redis_key_prefix),
                          settings.rewrite_cache_ttl_s, fingerprint)
             if settings.rewrite_cache_enabled and redis is not None else None)
    available: tuple[TierName, ...] = tuple(t.name for t in tiers) + (
        ("cache",) if cache is not None else ())
    router = RewriteRouter(available, RewriteRouterConfig(
        min_strict_hits=settings.rewrite_min_strict_hits,
        natural_language_words=settings.rewrite_natural_language_words,
        hard_query_words=settings.rewrite_hard_query_words))
    prices = {name: ModelPrice(p.input_usd_per_mtok, p.output_usd_per_mtok)
              for name, p in settings.rewrite_model_prices.items()}
    for tier in tiers:
        if tier.name == "large_llm" and tier.model not in prices:
            log.warning("no price for %s in STREAMREC_REWRITE_MODEL_PRICES: its cost counts "
                        "as 0 and the money budget does not bind it", tier.model)
    return QueryRewriteCascade(
        router, RewriteValidator(IntentTermRule(is_known)), tiers, cache,
        CostBudget(settings.rewrite_budget_tokens_per_minute,
                   settings.rewrite_budget_usd_per_hour),
        prices,
        {"small_llm": settings.rewrite_small_timeout_s,
         "large_llm": settings.rewrite_large_timeout_s},
        settings.rewrite_stage_timeout_s, settings.rewrite_max_output_tokens)
