"""Query spelling correction from the catalog's own vocabulary (SymSpell-style).

The vocabulary is the document frequency of every normalised word of the products'
titles, brands and category names, kept up to date by the same upsert/delete stream
as the lexical index (a product's words are remembered so an update or a delete
takes its old words back out).

Candidates come from a *deletes dictionary* (Wolf Garbe's SymSpell): every word is
indexed under all strings obtained by deleting up to ``max_edit_distance``
characters from its first ``prefix_length`` characters; a query token looks up the
deletes of its own prefix, and the candidates found are verified with the optimal
string alignment (Damerau-Levenshtein) distance. The bulk of the dictionary is two
sorted numpy arrays (hash of the delete string, word id), so 55k products cost a few
MB rather than a dict of ~1M strings; words added later go to a small dict that is
merged into the arrays when it grows past ``merge_threshold`` entries.

A token is left alone when it is known, numeric, a unit, or shorter than
``min_token_length``. Otherwise the best candidate is the one with the smallest
distance, then the highest frequency; a known two-word split (``hotwater`` ->
``hot water``) is preferred over a distance-2 edit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamrec.indexer.lexical_index import (
    UNIT_WORDS,
    ProductTextNormaliser,
    build_product_analyzer,
    category_levels,
)

SNAPSHOT_FORMAT = "streamrec.spelling/1"


@dataclass(frozen=True)
class SpellingCorrectorConfig:
    """Tunables of the spelling corrector (the lead maps these onto ``Settings``)."""

    max_edit_distance: int = 2
    distance_two_min_length: int = 5
    """Tokens shorter than this are corrected at distance 1 only."""
    min_token_length: int = 3
    """Shorter tokens are never corrected."""
    prefix_length: int = 7
    min_word_count: int = 1
    """Words seen in fewer products are not offered as corrections."""
    split_compounds: bool = True
    min_split_part_length: int = 3
    merge_threshold: int = 50_000


@dataclass(frozen=True)
class SpellingCorrection:
    original: str
    corrected: str
    """The query as normalised tokens with the corrections applied."""
    corrections: tuple[tuple[str, str], ...] = field(default=())
    """(token, replacement) for each token changed; a split has a space in it."""

    @property
    def changed(self) -> bool:
        return bool(self.corrections)


def _deletes(word: str, max_distance: int) -> set[str]:
    """All strings made by deleting up to ``max_distance`` characters (the word included)."""
    out = {word}
    frontier = {word}
    for _ in range(max_distance):
        nxt: set[str] = set()
        for w in frontier:
            if len(w) > 1:
                nxt.update(w[:i] + w[i + 1 :] for i in range(len(w)))
        nxt -= out
        out |= nxt
        frontier = nxt
    return out


def osa_distance(a: str, b: str, max_distance: int) -> int:
    """Optimal string alignment distance, or ``max_distance + 1`` when it is larger."""
    if a == b:
        return 0
    over = max_distance + 1
    if abs(len(a) - len(b)) > max_distance:
        return over
    # A common prefix and suffix never change the distance (as in SymSpell).
    start = 0
    shortest = min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    # Keep one matched character before the difference so transpositions still count.
    start = max(0, start - 1)
    a, b = a[start:end_a], b[start:end_b]
    la, lb = len(a), len(b)
    if not la or not lb:
        return la + lb if la + lb <= max_distance else over
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] * (lb + 1)
        ca = a[i - 1]
        ca_prev = a[i - 2] if i > 1 else ""
        row_min = i
        left = i
        for j in range(1, lb + 1):
            cb = b[j - 1]
            v = prev[j - 1] if ca == cb else prev[j - 1] + 1
            up = prev[j] + 1
            if up < v:
                v = up
            if left + 1 < v:
                v = left + 1
            if j > 1 and ca == b[j - 2] and ca_prev == cb and prev2[j - 2] + 1 < v:
                v = prev2[j - 2] + 1
            cur[j] = v
            left = v
            if v < row_min:
                row_min = v
        if row_min > max_distance:
            return over
        prev2, prev = prev, cur
    return prev[lb] if prev[lb] <= max_distance else over


class SpellingCorrector:
    """Corrects unknown query words towards the catalog's vocabulary."""

    def __init__(self, config: SpellingCorrectorConfig | None = None) -> None:
        self.config = config or SpellingCorrectorConfig()
        self._normaliser = ProductTextNormaliser()
        self._analyzer = build_product_analyzer()
        self._counts: dict[str, int] = {}
        self._stem_counts: dict[str, int] = {}
        self._sku_words: dict[str, tuple[str, ...]] = {}
        self._words: list[str] = []
        self._word_ids: dict[str, int] = {}
        self._hashes = np.empty(0, dtype=np.int64)
        self._hash_word_ids = np.empty(0, dtype=np.int32)
        self._delta: dict[int, list[int]] = {}
        self._delta_entries = 0
        self._bulk = False

    # ---- updates -----------------------------------------------------------------------

    def upsert(
        self,
        sku: str,
        title: str | None,
        category_path: Sequence[str] | str | None = None,
        brand: str | None = None,
    ) -> None:
        """Add (or replace) one product's words; same arguments as ``LexicalIndex.upsert``."""
        texts = [title or "", brand or "", *category_levels(category_path)]
        words = tuple(sorted(self._vocabulary_words(" ".join(texts))))
        old = self._sku_words.get(sku)
        if old == words:
            return
        if old:
            self._forget(old)
        self._sku_words[sku] = words
        for word in words:
            self._counts[word] = self._counts.get(word, 0) + 1
            if word not in self._word_ids:
                self._index_word(word)
        for stem in self._stems(words):
            self._stem_counts[stem] = self._stem_counts.get(stem, 0) + 1
        if not self._bulk and self._delta_entries >= self.config.merge_threshold:
            self._merge_delta()

    def delete(self, sku: str) -> None:
        """Take one product's words out (a no-op for an unknown sku)."""
        old = self._sku_words.pop(sku, None)
        if old:
            self._forget(old)

    def bulk_load(
        self,
        products: Iterable[tuple[str, str | None, Sequence[str] | str | None, str | None]],
    ) -> None:
        """Upsert many ``(sku, title, category_path, brand)`` and compact once at the end."""
        self._bulk = True
        try:
            for sku, title, category_path, brand in products:
                self.upsert(sku, title, category_path, brand)
        finally:
            self._bulk = False
        self._merge_delta()

    # ---- queries -----------------------------------------------------------------------

    def correct(self, query: str) -> SpellingCorrection:
        """The query with each unknown word replaced by its best known correction."""
        tokens = self._normaliser.tokens(query, canonical_units=False)
        out: list[str] = []
        corrections: list[tuple[str, str]] = []
        for token in tokens:
            fix = self.correct_token(token)
            if fix is not None and fix != token:
                corrections.append((token, fix))
                out.append(fix)
            else:
                out.append(token)
        return SpellingCorrection(query, " ".join(out), tuple(corrections))

    def correct_token(self, token: str) -> str | None:
        """Best correction of one normalised token; None when it is fine or hopeless."""
        cfg = self.config
        if (
            len(token) < cfg.min_token_length
            or not token.isalpha()
            or token in UNIT_WORDS
            or self.is_known(token)
        ):
            return None
        max_d = cfg.max_edit_distance if len(token) >= cfg.distance_two_min_length else 1
        max_d = min(max_d, cfg.max_edit_distance)
        best = self._best_candidate(token, max_d)
        if best is not None and best[0] <= 1:
            return best[1]
        if cfg.split_compounds:
            split = self._best_split(token)
            if split is not None:
                return split
        return best[1] if best is not None else None

    def is_known(self, word: str) -> bool:
        """A catalog word, or an inflection of one (same English stem)."""
        if self._counts.get(word, 0) > 0:
            return True
        stems = self._analyzer.analyze(word)
        return bool(stems) and self._stem_counts.get(stems[0], 0) > 0

    def frequency(self, word: str) -> int:
        return self._counts.get(word, 0)

    @property
    def vocabulary_size(self) -> int:
        return sum(1 for c in self._counts.values() if c > 0)

    def __len__(self) -> int:
        return len(self._sku_words)

    # ---- persistence -------------------------------------------------------------------

    def save(self, path: Path | str) -> None:
        """Write the products' words (the dictionary is rebuilt from them on load)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": SNAPSHOT_FORMAT,
            "products": {sku: " ".join(words) for sku, words in self._sku_words.items()},
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)

    @classmethod
    def load(
        cls, path: Path | str, config: SpellingCorrectorConfig | None = None
    ) -> SpellingCorrector:
        raw = json.loads(Path(path).read_text())
        if raw.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"{path} is not a spelling snapshot ({raw.get('format')!r})")
        corrector = cls(config)
        corrector.bulk_load((sku, words, None, None) for sku, words in raw["products"].items())
        return corrector

    # ---- internals ---------------------------------------------------------------------

    def _vocabulary_words(self, text: str) -> set[str]:
        return {
            t
            for t in self._normaliser.tokens(text, canonical_units=False, join_compounds=True)
            if t.isalpha() and len(t) >= 2
        }

    def _stems(self, words: Sequence[str]) -> set[str]:
        return set(self._analyzer.analyze(" ".join(words))) if words else set()

    def _forget(self, words: Sequence[str]) -> None:
        for table, keys in ((self._counts, words), (self._stem_counts, self._stems(words))):
            for key in keys:
                left = table.get(key, 0) - 1
                if left > 0:
                    table[key] = left
                else:
                    table.pop(key, None)

    def _index_word(self, word: str) -> None:
        wid = len(self._words)
        self._words.append(word)
        self._word_ids[word] = wid
        prefix = word[: self.config.prefix_length]
        for d in _deletes(prefix, self.config.max_edit_distance):
            self._delta.setdefault(hash(d), []).append(wid)
            self._delta_entries += 1

    def _merge_delta(self) -> None:
        if not self._delta:
            return
        n = self._delta_entries
        hashes = np.empty(n, dtype=np.int64)
        wids = np.empty(n, dtype=np.int32)
        i = 0
        for h, ids in self._delta.items():
            hashes[i : i + len(ids)] = h
            wids[i : i + len(ids)] = ids
            i += len(ids)
        hashes = np.concatenate([self._hashes, hashes])
        wids = np.concatenate([self._hash_word_ids, wids])
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._hash_word_ids = hashes[order], wids[order]
        self._delta.clear()
        self._delta_entries = 0

    def _candidate_ids(self, token: str, max_d: int) -> set[int]:
        keys = _deletes(token[: self.config.prefix_length], max_d)
        found: set[int] = set()
        for key in keys:
            ids = self._delta.get(hash(key))
            if ids:
                found.update(ids)
        if self._hashes.size:
            probe = np.fromiter((hash(k) for k in keys), dtype=np.int64, count=len(keys))
            lo = np.searchsorted(self._hashes, probe, side="left")
            hi = np.searchsorted(self._hashes, probe, side="right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                if b > a:
                    found.update(self._hash_word_ids[a:b].tolist())
        return found

    def _best_candidate(self, token: str, max_d: int) -> tuple[int, str] | None:
        min_count = self.config.min_word_count
        best: tuple[int, int, str] | None = None  # (distance, -count, word)
        for wid in self._candidate_ids(token, max_d):
            word = self._words[wid]
            count = self._counts.get(word, 0)
            if count < min_count or abs(len(word) - len(token)) > max_d:
                continue
            limit = max_d if best is None else min(max_d, best[0])
            d = osa_distance(token, word, limit)
            if d > limit:
                continue
            key = (d, -count, word)
            if best is None or key < best:
                best = key
        return None if best is None else (best[0], best[2])

    def _best_split(self, token: str) -> str | None:
        min_count = self.config.min_word_count
        part = self.config.min_split_part_length
        best: tuple[int, str] | None = None
        for i in range(part, len(token) - part + 1):
            left, right = token[:i], token[i:]
            score = min(self._counts.get(left, 0), self._counts.get(right, 0))
            if score >= min_count and (best is None or score > best[0]):
                best = (score, f"{left} {right}")
        return None if best is None else best[1]
