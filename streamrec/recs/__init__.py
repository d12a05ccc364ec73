"""The user path of recommendations, as plain code (no Faust, no FastAPI).

Per event (user agent): ``UserEventApplier`` updates each user's ``UserProfile`` and
writes co-visitation and trending counts; ``RefreshDebouncer`` says when a user's
candidates are due; ``CandidateRefresher`` generates them (``CandidateGenerator`` over
the candidate sources) and writes them to the ``CandidateCache``.

Per request (API): ``RecommendationPipeline`` reads the cache (or falls back to
trending), hydrates, filters, reranks, diversifies and explains.
"""
