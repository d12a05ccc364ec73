"""The budget-aware query-rewrite cascade of search.

A query whose first pass looks weak (nothing, or only partial matches) or that reads
like a sentence ("i am looking for a ...") may be rewritten, cheapest tier first:

    cache (validated rewrites in Redis) -> deterministic (units, filler, catalog speller)
    -> small LLM (OpenAI-compatible chat completions: vLLM, llama.cpp server)
    -> large LLM (Claude, Anthropic Messages API) for the hardest queries

``RewriteRouter`` decides whether and how far up to go, ``CostBudget`` refuses a paid
call that would break the tokens-per-minute or money-per-hour budget, and
``RewriteValidator`` discards a rewrite that drops the query's intent terms or finds
fewer results. Only validated rewrites are served and cached. Nothing here imports the
serving tier: the search is a callable passed in (``SearchProbe`` in, ``SearchProbe``
out), so the API, the bench and the tests wire their own.
"""
