"""Features of (query, candidate) pairs, computed from what search already has.

Cheap by design: no model call, one tokenisation of the query, a cached tokenisation
per title (titles repeat across requests), set arithmetic per candidate. Columns in
the order of ``feature_schema.FEATURE_NAMES``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

import numpy as np

from streamrec.indexer.lexical_index import (
    STOPWORDS,
    UNIT_WORDS,
    ProductTextNormaliser,
    build_product_analyzer,
    category_filter_key,
    category_filter_keys,
)
from streamrec.rerank.feature_schema import FEATURE_NAMES
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.search_log import SearchLog

_NUMBER = re.compile(r"^\d")
_NAN = math.nan
_MIN_PREFIX = 3
_AGREEMENT_TOP = 20
C = {name: i for i, name in enumerate(FEATURE_NAMES)}
"""Column of each feature (assignments below are by name, never by position)."""


@dataclass(frozen=True, slots=True)
class AnalysedText:
    surface: tuple[str, ...]
    """Normalised tokens (units canonical), in order."""
    stems: tuple[str, ...]
    """The same tokens stemmed, in order (same length as ``surface``)."""
    numbers: frozenset[str]
    number_units: frozenset[tuple[str, str]]
    """(number, canonical unit) for each number directly followed by a unit."""
    joined: str
    """``" ".join(surface)``, for phrase matching."""
    trigrams: frozenset[str]
    """Character 3-grams of each token padded with spaces (``" ab"``, ``"abc"``, ``"bc "``)."""
    sorted_stems: tuple[str, ...]
    """The distinct stems, sorted: "does a stem start with s" is one bisection."""
    stem_set: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    """Adjacent stem pairs."""
    noun: str | None
    """The stem of the last token that is neither a number nor a unit (the product noun)."""


class PairFeatureExtractor:
    """Turns a query and its candidates into a ``(n, len(FEATURE_NAMES))`` float32 matrix."""

    def __init__(self, title_cache_size: int = 131_072, search_log: SearchLog | None = None,
                 leave_query_out: bool = False) -> None:
        self._normaliser = ProductTextNormaliser()
        self._analyzer = build_product_analyzer()
        # titles repeat across requests: analyse each once (lru_cache is thread-safe)
        self._analyse_title = lru_cache(maxsize=title_cache_size)(self.analyse)
        self.search_log: SearchLog | None = None
        self.leave_query_out = leave_query_out
        """Training: a query's own logged pairs are not counted (see ``SearchLog``)."""
        if search_log is not None:
            self.use_search_log(search_log)

    def use_search_log(self, search_log: SearchLog) -> None:
        """Fill the ``search_log_*`` columns from this log (the model file's own)."""
        search_log.bind_terms(self.word_terms)
        self.search_log = search_log

    def word_terms(self, text: str) -> frozenset[str]:
        """The stems of a text's words: no stopwords, numbers or units (what two queries
        must share to count as related in the search log)."""
        a = self.analyse(text)
        return frozenset(_word_stems(a, (i for i, t in enumerate(a.surface)
                                         if t not in STOPWORDS)))

    @property
    def names(self) -> tuple[str, ...]:
        return FEATURE_NAMES

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        """Analyse titles ahead of the requests that will need them (the index replica
        calls this as products arrive): the search rerank stage at one client went from
        4.8 to 3.4 ms (bench_search_quality) once titles no longer waited for the first
        request that ranked them. Fills only
        free cache room, so it never evicts what requests use. Returns how much the cache
        grew."""
        cache = self._analyse_title
        start = size = cache.cache_info().currsize
        limit = cache.cache_info().maxsize or 0
        for title in titles:
            if size >= limit:
                break
            if title:
                cache(title)
                size = cache.cache_info().currsize
        return size - start

    def analyse(self, text: str) -> AnalysedText:
        surface = tuple(self._normaliser.tokens(text))
        stems = tuple(self._analyzer.analyze(" ".join(surface))) if surface else ()
        if len(stems) != len(surface):  # the analyzer splits on whitespace only; be safe
            stems = tuple(self._analyzer.analyze(token)[0] if self._analyzer.analyze(token)
                          else token for token in surface)
        numbers = frozenset(t for t in surface if _NUMBER.match(t))
        pairs = frozenset((a, b) for a, b in pairwise(surface)
                          if _NUMBER.match(a) and b in UNIT_WORDS)
        trigrams = frozenset(padded[i:i + 3] for token in surface
                             for padded in (f" {token} ",) for i in range(len(padded) - 2))
        noun = next((stem for token, stem in zip(reversed(surface), reversed(stems),
                                                 strict=True)
                     if not _NUMBER.match(token) and token not in UNIT_WORDS), None)
        return AnalysedText(surface, stems, numbers, pairs, " ".join(surface), trigrams,
                            tuple(sorted(set(stems))), frozenset(stems),
                            frozenset(pairwise(stems)), noun)

    def extract(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        if not candidates:
            return np.full((0, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
        q = self.analyse(query.text)
        content = [i for i, t in enumerate(q.surface) if t not in STOPWORDS] or \
            list(range(len(q.surface)))
        q_stems = list(dict.fromkeys(q.stems[i] for i in content))
        q_surface = set(q.surface[i] for i in content)
        q_bigrams = set(pairwise(q.stems))
        n_terms = len(q_stems)
        # the product noun: last word that is neither a number nor a unit ("bracket" in
        # "angle bracket 60 in"); the first such word is often the brand or the modifier
        words = _word_stems(q, content)
        wanted = category_filter_key(query.category) if query.category else None

        bm25_best = max((c.bm25_score for c in candidates if c.bm25_score is not None),
                        default=None)
        cos_best = max((c.vector_score for c in candidates if c.vector_score is not None),
                       default=None)
        agreement = self._category_agreement(candidates)
        q_stem_set = set(q_stems)

        # a query stem s "prefix-matches" a title stem ts when either starts with the other
        # (both at least _MIN_PREFIX long): ts.startswith(s) is a bisection in the title's
        # sorted stems, s.startswith(ts) a lookup of s's own prefixes
        q_prefixes = {s: [s[:n] for n in range(_MIN_PREFIX, len(s))] for s in q_stems
                      if len(s) >= _MIN_PREFIX}
        n_features = len(FEATURE_NAMES)
        rows: list[list[float]] = []

        for row, cand in enumerate(candidates):
            t = self._analyse_title(cand.title)
            t_stems = t.stem_set
            matched = [s for s in q_stems if s in t_stems]
            prefixed = len(matched) + sum(
                1 for s, prefixes in q_prefixes.items() if s not in t_stems and (
                    _starts_any(t.sorted_stems, s) or any(p in t_stems for p in prefixes)))
            f = [_NAN] * n_features
            rows.append(f)
            f[C["fused_score"]] = cand.fused_score
            f[C["fused_rank"]] = cand.fused_rank
            if cand.bm25_score is not None:
                f[C["bm25_score"]] = cand.bm25_score
                f[C["bm25_rank"]] = cand.bm25_rank if cand.bm25_rank is not None else _NAN
                f[C["bm25_score_rel"]] = cand.bm25_score / bm25_best if bm25_best else 0.0
            else:
                f[C["bm25_score_rel"]] = 0.0
            if cand.vector_score is not None:
                f[C["vector_cosine"]] = cand.vector_score
                f[C["vector_cosine_gap"]] = cand.vector_score - (cos_best or 0.0)
            if cand.vector_rank is not None:
                f[C["vector_rank"]] = cand.vector_rank
            f[C["query_terms"]] = n_terms
            if n_terms:
                exact = sum(1 for s in q_surface if s in t.surface)
                f[C["exact_term_share"]] = exact / len(q_surface)
                f[C["stem_term_share"]] = len(matched) / n_terms
                f[C["prefix_term_share"]] = prefixed / n_terms
                f[C["missing_terms"]] = n_terms - len(matched)
                f[C["all_terms_covered"]] = float(len(matched) == n_terms)
            if words:
                f[C["last_term_match"]] = float(words[-1] in t_stems)
                f[C["first_term_match"]] = float(words[0] in t_stems)
            if q_bigrams:
                f[C["bigram_share"]] = len(q_bigrams & t.bigrams) / len(q_bigrams)
            f[C["phrase_match"]] = float(bool(q.joined) and f" {q.joined} " in f" {t.joined} ")
            if q.trigrams:
                shared = len(q.trigrams & t.trigrams)
                f[C["trigram_coverage"]] = shared / len(q.trigrams)
                f[C["trigram_jaccard"]] = shared / len(q.trigrams | t.trigrams)
            if words and words[-1] in t_stems and len(t.stems) > 1:
                f[C["last_term_position"]] = t.stems.index(words[-1]) / (len(t.stems) - 1)
            f[C["title_noun_in_query"]] = float(t.noun is not None and t.noun in q_stem_set)
            f[C["title_terms"]] = len(t.surface)
            f[C["title_extra_terms"]] = len(t_stems - q_stem_set)
            f[C["query_numbers"]] = len(q.numbers)
            if q.numbers:
                f[C["number_match_share"]] = len(q.numbers & t.numbers) / len(q.numbers)
            if q.number_units:
                units = len(q.number_units & t.number_units)
                f[C["number_unit_match_share"]] = units / len(q.number_units)
            if wanted:
                f[C["category_match"]] = float(wanted in category_filter_keys(cand.category_path))
            f[C["category_agreement"]] = agreement[row]
            f[C["popularity_log"]] = math.log1p(max(cand.popularity, 0.0))
        out = np.array(rows, dtype=np.float32)
        # list context: how far each candidate is from the best one on the same query
        for name, gap in (("trigram_coverage", "trigram_coverage_gap"),
                          ("prefix_term_share", "prefix_share_gap")):
            column = out[:, C[name]]
            if not np.isnan(column).all():
                out[:, C[gap]] = column - np.nanmax(column)
        if self.search_log is not None:
            counts, shared = self.search_log.features(
                query.text, frozenset(words), [c.sku for c in candidates],
                self.leave_query_out or None)
            out[:, C["search_log_queries"]] = counts
            out[:, C["search_log_shared_term_queries"]] = shared
        else:
            out[:, C["search_log_queries"]] = 0.0
            out[:, C["search_log_shared_term_queries"]] = 0.0
        return out

    @staticmethod
    def _category_agreement(candidates: Sequence[RerankCandidate]) -> list[float]:
        """Per candidate: the share of the top candidates sharing its deepest category (an
        inferred-category signal that needs no extra lookup); NaN when it has none."""
        top = [c.category_path for c in sorted(candidates, key=lambda c: c.fused_rank)
               [:_AGREEMENT_TOP] if c.category_path]
        share: dict[tuple[str, ...], float] = {}  # candidates share few distinct paths
        out = []
        for cand in candidates:
            path = tuple(cand.category_path)
            if not path or not top:
                out.append(_NAN)
                continue
            if path not in share:
                share[path] = sum(1 for p in top if p[:len(path)] == path) / len(top)
            out.append(share[path])
        return out


def _word_stems(text: AnalysedText, indices: Iterable[int]) -> list[str]:
    """The stems at ``indices`` that are words, neither numbers nor units, in order."""
    return [text.stems[i] for i in indices
            if not _NUMBER.match(text.surface[i]) and text.surface[i] not in UNIT_WORDS]


def _starts_any(sorted_words: tuple[str, ...], prefix: str) -> bool:
    """Whether a word of ``sorted_words`` starts with ``prefix`` (the first word not
    below the prefix is the only candidate)."""
    i = bisect_left(sorted_words, prefix)
    return i < len(sorted_words) and sorted_words[i].startswith(prefix)
