"""The reranker's feature list: names, order and meaning, versioned.

A model file records ``FEATURE_SET`` and ``FEATURE_NAMES``; loading a model trained on
another list fails (``RerankModelMismatchError``) instead of silently scoring columns
that mean something else. Change the list => bump the version and retrain.

NaN means "unknown" (LightGBM routes missing values down a learned branch): a candidate
that one retriever did not return, a query without numbers, a catalog without categories.
"""

from __future__ import annotations

FEATURE_SET = "streamrec.rerank.features/2"

FEATURES: tuple[tuple[str, str], ...] = (
    # --- retrieval: what the hybrid stage already computed
    ("fused_score", "convex fusion score (0.8 BM25 / 0.2 vector, min-max normalised)"),
    ("fused_rank", "0-based position in the fused list"),
    ("bm25_score", "BM25 score (tiered); NaN when lexical did not return it"),
    ("bm25_rank", "0-based rank in the lexical list; NaN when absent"),
    ("bm25_score_rel", "BM25 score over the best BM25 score among the candidates; 0 if absent"),
    ("vector_cosine", "cosine of query and product vectors; NaN when no vector"),
    ("vector_rank", "0-based rank in the ANN list; NaN when absent"),
    ("vector_cosine_gap", "cosine minus the best cosine among the candidates"),
    # --- query-title term overlap (normalised tokens as the lexical index sees them)
    ("query_terms", "distinct non-stopword query terms (stemmed)"),
    ("exact_term_share", "share of query terms present in the title as typed (surface form)"),
    ("stem_term_share", "share of query terms present in the title after stemming"),
    ("prefix_term_share", "share matched by stem or by a prefix (>= 3 chars) either way"),
    ("missing_terms", "query terms (stemmed) absent from the title"),
    ("all_terms_covered", "1 when every query term is in the title (stemmed)"),
    ("last_term_match", "the query's last word (not a number or unit; usually the product "
                        "noun) is in the title; NaN when the query has no word"),
    ("first_term_match", "the query's first word is in the title; NaN when none"),
    ("bigram_share", "share of adjacent query term pairs adjacent in the title; NaN if < 2"),
    ("phrase_match", "the whole normalised query occurs in the normalised title"),
    ("trigram_coverage", "share of the query's character 3-grams found in the title's "
                         "(misspellings, compounds: 'deckover', 'windowair')"),
    ("trigram_jaccard", "Jaccard similarity of query and title character 3-grams"),
    ("last_term_position", "where the query's last word first occurs in the title, 0 (start) "
                           "to 1 (end); NaN when absent"),
    ("trigram_coverage_gap", "trigram coverage minus the best among the candidates"),
    ("prefix_share_gap", "prefix term share minus the best among the candidates"),
    ("title_noun_in_query", "the title's last word (not a number or unit; in these catalogs "
                            "usually the product type) is a query term"),
    ("title_terms", "title length in tokens"),
    ("title_extra_terms", "distinct title terms not in the query"),
    # --- sizes and measures ("1/2 in", "60 in", "5 gal")
    ("query_numbers", "number tokens in the query"),
    ("number_match_share", "share of the query's numbers present in the title; NaN if none"),
    ("number_unit_match_share", "share of the query's number+unit pairs in the title; NaN if none"),
    # --- catalog structure and behaviour
    ("category_match", "1/0: the product is under the requested category; NaN when none"),
    ("category_agreement", "share of the top 20 candidates in the product's category; NaN if "
                           "it has none"),
    ("popularity_log", "log1p of event-weighted popularity; 0 when unknown"),
    # --- the search log the model was trained with (``search_log.SearchLog``)
    ("search_log_queries", "log1p of the other logged searches that led to the product; "
                           "0 without a log"),
    ("search_log_shared_term_queries", "log1p of those sharing a word with this query"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
