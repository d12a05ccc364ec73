"""BM25 lexical index over product title, category path and brand, kept on tantivy.

Fed by the same stream of product upserts and deletes as the vector index. Changes
are buffered in tantivy's writer and become searchable at the next *refresh*
(commit + reader reload). The commit policy bounds staleness: a refresh happens as
soon as ``commit_every_docs`` changes are pending or the oldest pending change is
``commit_interval_ms`` old, checked on every write and by :meth:`refresh_if_due`,
which the owner calls from a timer (or :meth:`start_auto_refresh` does it on a
background thread). So a change is searchable within ``commit_interval_ms`` plus one
commit (~15-40 ms here) once something ticks. Staleness is measured, not assumed:
:meth:`stats` reports the current age of the oldest pending change and percentiles
of the lag of the changes made visible by recent commits.

Why tantivy rather than bm25s: tantivy updates incrementally (delete-by-term + add,
commit, reload) in tens of milliseconds at any index size, and has English stemming,
ASCII folding, per-field BM25, boosts, min-should-match and a directory that can be
snapshotted. bm25s must rebuild its sparse matrix (~seconds for 55k products), so
bounded staleness would need a second delta index and merged scoring.

Text analysis: :class:`ProductTextNormaliser` (Python) lowercases, ASCII-folds,
unescapes HTML, keeps numbers and fractions (``1/2``, ``1.9``), splits digit/letter
runs (``20v`` -> ``20 v``), canonicalises units (``inch``/``"``/``in.`` -> ``in``,
``volts``/``v`` -> ``volt``) and, for documents only, adds the joined form of
hyphenated words (``deck-over`` -> ``deck over deckover``). Tantivy then applies the
English (Porter) stemmer. The same normaliser feeds the spelling corrector.

Snapshots: :meth:`LexicalIndex.snapshot` commits, copies the index directory and
writes a manifest with the Kafka offsets the caller passes (``{partition: offset}``,
by convention the offset of the next record to apply, as Kafka commits them);
:meth:`LexicalIndex.restore` copies a snapshot into a working directory and exposes
those offsets as :attr:`LexicalIndex.snapshot_offsets` so the caller can seek there
and replay the rest.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tantivy

SearchMode = Literal["strict", "any", "all", "tiered"]

ANALYZER_VERSION = 1
"""Bumped whenever normalisation or the schema changes; older snapshots are refused."""

MANIFEST_NAME = "lexical_manifest.json"
SNAPSHOT_FORMAT = "streamrec.lexical/1"
_TOKENIZER = "streamrec_product_en"
_LOCK_FILES = frozenset({".tantivy-writer.lock", ".tantivy-meta.lock"})


@dataclass(frozen=True)
class LexicalIndexConfig:
    """Tunables of the lexical index (the lead maps these onto ``Settings``)."""

    title_boost: float = 2.0
    category_boost: float = 1.0
    brand_boost: float = 1.0
    strict_min_match_ratio: float = 0.75
    """Strict mode requires ``floor(ratio * n)`` of the n non-stopword query terms
    (at least 1, and all of them for queries of up to ``strict_all_terms_up_to``)."""
    strict_all_terms_up_to: int = 2
    max_query_terms: int = 16
    commit_every_docs: int = 1_000
    commit_interval_ms: int = 200
    writer_heap_bytes: int = 64_000_000
    writer_threads: int = 1


@dataclass(frozen=True)
class LexicalHit:
    sku: str
    score: float
    category_path: tuple[str, ...]


@dataclass(frozen=True)
class LexicalIndexStats:
    num_docs: int
    pending_changes: int
    commits: int
    staleness_s: float
    """Age of the oldest change not yet searchable (0 when none is pending)."""
    visible_lag_p50_s: float
    visible_lag_p99_s: float
    visible_lag_max_s: float
    """Over recent commits: time from the oldest change of a commit to its visibility."""


@dataclass(frozen=True)
class LexicalSnapshotManifest:
    format: str
    analyzer_version: int
    created_at: float
    num_docs: int
    offsets: dict[int, int]


# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

_UNIT_ALIASES: dict[str, str] = {
    **dict.fromkeys(("in", "inch", "inches"), "in"),
    **dict.fromkeys(("ft", "foot", "feet"), "ft"),
    **dict.fromkeys(("v", "volt", "volts", "voltage"), "volt"),
    **dict.fromkeys(("w", "watt", "watts", "wattage"), "watt"),
    **dict.fromkeys(("amp", "amps", "ampere", "amperes", "amperage"), "amp"),
    **dict.fromkeys(("gal", "gallon", "gallons"), "gal"),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), "lb"),
    **dict.fromkeys(("oz", "ounce", "ounces"), "oz"),
    **dict.fromkeys(("sq", "square"), "sq"),
    **dict.fromkeys(("cu", "cubic"), "cu"),
    **dict.fromkeys(("deg", "degree", "degrees"), "deg"),
    **dict.fromkeys(("mm", "millimeter", "millimeters"), "mm"),
    **dict.fromkeys(("cm", "centimeter", "centimeters"), "cm"),
    **dict.fromkeys(("qt", "quart", "quarts"), "qt"),
    **dict.fromkeys(("btu", "btus"), "btu"),
}
UNIT_WORDS = frozenset(_UNIT_ALIASES)
"""Surface forms of units; the spelling corrector never 'corrects' them."""

STOPWORDS = frozenset(
    {"a", "an", "and", "or", "the", "of", "for", "with", "to", "on", "by", "x", "at", "is", "in"}
)
"""Canonical tokens that never count towards strict matching (they still score)."""

OPTIONAL_TERMS = STOPWORDS | frozenset(_UNIT_ALIASES.values())
"""Stopwords and canonical units: in strict mode the number carries a measure, the unit
only scores (users write ``3/4'`` for inches and ``10 in`` for feet)."""

_FRACTION_SLASH = re.compile("[\u2044\u2215]")
_INCH_MARK = re.compile(r"(\d)\s*(?:\"|''|\u2032\u2032|\u2019\u2019|\u201d|\u2033|\u02ba)")
_FOOT_MARK = re.compile(r"(\d)\s*(?:'|\u2019|\u2032)")
_DEGREE = re.compile("\u00b0")
_DIGIT_GROUP = re.compile(r"(\d),(\d{3})(?!\d)")
_INNER_APOSTROPHE = re.compile(r"([a-z])['\u2019]([a-z])")
_HYPHENATED = re.compile(r"[a-z]+(?:-[a-z]+)+")
_TOKEN = re.compile(r"\d+(?:[./]\d+)*|\.\d+|[a-z]+")


class ProductTextNormaliser:
    """Turns product text or a query into normalised surface tokens (not yet stemmed)."""

    def tokens(
        self, text: str | None, *, canonical_units: bool = True, join_compounds: bool = False
    ) -> list[str]:
        if not text:
            return []
        text = html.unescape(text)
        text = _FRACTION_SLASH.sub("/", unicodedata.normalize("NFKC", text))
        text = _DEGREE.sub(" deg ", text)
        text = _INCH_MARK.sub(r"\1 in ", text)
        text = _FOOT_MARK.sub(r"\1 ft ", text)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        text = _DIGIT_GROUP.sub(r"\1\2", text)
        text = _INNER_APOSTROPHE.sub(r"\1\2", text)
        out: list[str] = []
        for raw in _TOKEN.findall(text):
            token = "0" + raw if raw[0] == "." else raw
            out.append(_UNIT_ALIASES.get(token, token) if canonical_units else token)
        if join_compounds:
            out.extend(m.group().replace("-", "") for m in _HYPHENATED.finditer(text))
        return out


def category_levels(category_path: Sequence[str] | str | None) -> tuple[str, ...]:
    """A category path as its levels: a list as given, or a string split on ``>``."""
    if not category_path:
        return ()
    parts = category_path.split(">") if isinstance(category_path, str) else category_path
    return tuple(p.strip() for p in parts if p and p.strip())


def category_filter_keys(category_path: Sequence[str] | str | None) -> list[str]:
    """Keys a category filter matches: every path prefix (``tools>power tools``) and
    every single level name (``power tools``), lowercased."""
    levels = [" ".join(level.lower().split()) for level in category_levels(category_path)]
    keys = [">".join(levels[: i + 1]) for i in range(len(levels))]
    keys.extend(level for level in levels if level not in keys)
    return keys


def category_filter_key(category: Sequence[str] | str) -> str:
    """The one key a category filter looks up among :func:`category_filter_keys`."""
    levels = category_levels(category)
    return ">".join(" ".join(level.lower().split()) for level in levels)


# --------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------


def build_product_analyzer() -> tantivy.TextAnalyzer:
    """Tantivy's half of the analysis: whitespace split, lowercase, ASCII fold, stem."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("sku", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name=_TOKENIZER, index_option="freq")
    builder.add_text_field("category", tokenizer_name=_TOKENIZER, index_option="freq")
    builder.add_text_field("brand", tokenizer_name=_TOKENIZER, index_option="freq")
    builder.add_text_field("category_key", tokenizer_name="raw")
    builder.add_text_field("category_path", stored=True, tokenizer_name="raw")
    return builder.build()


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class LexicalIndex:
    """BM25 search over products, updated incrementally; see the module docstring."""

    def __init__(
        self, directory: Path | str | None = None, config: LexicalIndexConfig | None = None
    ) -> None:
        self.config = config or LexicalIndexConfig()
        self._owns_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="streamrec-lexical-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.snapshot_offsets: dict[int, int] = {}
        """Offsets recorded by the snapshot this index was restored from ({} if none)."""
        self._normaliser = ProductTextNormaliser()
        self._analyzer = build_product_analyzer()
        self._schema = _build_schema()
        self._index = tantivy.Index(self._schema, path=str(self.directory), reuse=True)
        self._index.register_tokenizer(_TOKENIZER, self._analyzer)
        self._index.config_reader(reload_policy="manual")
        self._writer: tantivy.IndexWriter | None = self._open_writer()
        self._searcher = self._index.searcher()
        self._lock = threading.RLock()
        self._pending = 0
        self._oldest_pending: float | None = None
        self._commits = 0
        self._lags: deque[float] = deque(maxlen=1_024)
        self._timer_stop: threading.Event | None = None
        self._timer: threading.Thread | None = None

    # ---- writes ------------------------------------------------------------------------

    def upsert(
        self,
        sku: str,
        title: str | None,
        category_path: Sequence[str] | str | None = None,
        brand: str | None = None,
    ) -> None:
        """Insert or replace one product; searchable after the next refresh."""
        levels = category_levels(category_path)
        doc = tantivy.Document()
        doc.add_text("sku", sku)
        doc.add_text("title", self._field_text(title))
        doc.add_text("category", self._field_text(" ".join(levels)))
        doc.add_text("brand", self._field_text(brand))
        for key in category_filter_keys(levels):
            doc.add_text("category_key", key)
        doc.add_text("category_path", " > ".join(levels))
        with self._lock:
            writer = self._require_writer()
            writer.delete_documents_by_term("sku", sku)
            writer.add_document(doc)
            self._note_change()

    def delete(self, sku: str) -> None:
        """Remove one product (a no-op for an unknown sku); visible after the next refresh."""
        with self._lock:
            self._require_writer().delete_documents_by_term("sku", sku)
            self._note_change()

    def refresh(self) -> int:
        """Commit pending changes and reload the reader; returns how many became visible."""
        with self._lock:
            if not self._pending:
                return 0
            self._require_writer().commit()
            self._index.reload()
            self._searcher = self._index.searcher()
            if self._oldest_pending is not None:
                self._lags.append(time.monotonic() - self._oldest_pending)
            made_visible, self._pending, self._oldest_pending = self._pending, 0, None
            self._commits += 1
            return made_visible

    def refresh_if_due(self) -> bool:
        """Refresh when the commit policy says so; call it from a timer."""
        with self._lock:
            if self._pending and self._is_due():
                self.refresh()
                return True
            return False

    def start_auto_refresh(self, period_s: float | None = None) -> None:
        """Tick :meth:`refresh_if_due` on a daemon thread (default: half the interval)."""
        if self._timer is not None:
            return
        period = period_s or max(self.config.commit_interval_ms / 2_000, 0.005)
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(period):
                self.refresh_if_due()

        self._timer_stop = stop
        self._timer = threading.Thread(target=tick, name="lexical-refresh", daemon=True)
        self._timer.start()

    def stop_auto_refresh(self) -> None:
        if self._timer is not None and self._timer_stop is not None:
            self._timer_stop.set()
            self._timer.join()
        self._timer = self._timer_stop = None

    # ---- reads -------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        category: Sequence[str] | str | None = None,
        mode: SearchMode = "strict",
    ) -> list[tuple[str, float]]:
        """Best ``k`` products for ``query`` as ``(sku, bm25 score)``, best first.

        ``mode``: ``"strict"`` (default) needs most non-stopword terms (see
        ``strict_min_match_ratio``), ``"any"`` needs one, ``"all"`` needs every one;
        ``"tiered"`` returns the strict matches first and fills the rest of ``k`` with
        ``"any"`` matches (strict scores are lifted above the relaxed ones so the
        scores stay in order; two searches). On Home Depot, tiered > any > strict on
        NDCG@10 (see ``bench/bench_lexical.py``).
        ``category`` keeps products whose path has it as a prefix or a level name.
        """
        return [(hit.sku, hit.score) for hit in self.search_hits(query, k, category, mode)]

    def search_hits(
        self,
        query: str,
        k: int = 10,
        category: Sequence[str] | str | None = None,
        mode: SearchMode = "strict",
    ) -> list[LexicalHit]:
        """Like :meth:`search`, with each hit's category path (for category inference)."""
        if mode == "tiered":
            return self._tiered_hits(query, k, category)
        built = self._build_query(query, category, mode)
        if built is None or k <= 0:
            return []
        searcher = self._searcher
        hits: list[LexicalHit] = []
        for score, address in searcher.search(built, limit=k, count=False).hits:
            doc = searcher.doc(address)
            path = doc.get_first("category_path") or ""
            hits.append(LexicalHit(doc.get_first("sku"), float(score), category_levels(path)))
        return hits

    def _tiered_hits(
        self, query: str, k: int, category: Sequence[str] | str | None,
        strict: list[LexicalHit] | None = None,
    ) -> list[LexicalHit]:
        if strict is None:
            strict = self.search_hits(query, k, category, "strict")
        if len(strict) >= k:
            return strict
        have = {hit.sku for hit in strict}
        rest = [h for h in self.search_hits(query, k, category, "any") if h.sku not in have]
        rest = rest[: k - len(strict)]
        lift = max((h.score for h in rest), default=0.0)
        lifted = [LexicalHit(h.sku, h.score + lift, h.category_path) for h in strict]
        return lifted + rest

    def tiered_after_strict(
        self, query: str, k: int, category: Sequence[str] | str | None,
        strict: list[LexicalHit],
    ) -> list[tuple[str, float]]:
        """``search(query, k, category, "tiered")`` for a caller that already ran the strict
        search with the same ``k`` (its hits as ``strict``): the strict query runs once."""
        return [(hit.sku, hit.score) for hit in self._tiered_hits(query, k, category, strict)]

    def query_terms(self, query: str) -> list[str]:
        """The stemmed terms a query searches for (for debugging and tests)."""
        return [term for term, _ in self._terms(query)]

    @property
    def num_docs(self) -> int:
        """Products searchable now (pending changes not counted)."""
        return self._searcher.num_docs

    def __len__(self) -> int:
        return self.num_docs

    @property
    def staleness_s(self) -> float:
        """Age of the oldest change that is not searchable yet (0.0 when none)."""
        oldest = self._oldest_pending
        return 0.0 if oldest is None else time.monotonic() - oldest

    def stats(self) -> LexicalIndexStats:
        lags = list(self._lags)
        return LexicalIndexStats(
            num_docs=self.num_docs,
            pending_changes=self._pending,
            commits=self._commits,
            staleness_s=self.staleness_s,
            visible_lag_p50_s=_percentile(lags, 0.50),
            visible_lag_p99_s=_percentile(lags, 0.99),
            visible_lag_max_s=max(lags, default=0.0),
        )

    # ---- snapshots ---------------------------------------------------------------------

    def snapshot(
        self, target: Path | str, offsets: Mapping[int, int] | None = None
    ) -> LexicalSnapshotManifest:
        """Commit and copy the index to ``target`` (replaced atomically) with ``offsets``.

        ``offsets`` maps partition -> offset of the next record to apply, i.e. every
        record before it is in this snapshot.
        """
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f"{target.name}.partial-{uuid.uuid4().hex[:8]}")
        with self._lock:
            self.refresh()
            # Let merges finish (this drops the writer) so no file vanishes mid-copy.
            self._require_writer().wait_merging_threads()
            self._writer = None
            try:
                staging.mkdir()
                for entry in self.directory.iterdir():
                    if entry.is_file() and entry.name not in _LOCK_FILES:
                        shutil.copy2(entry, staging / entry.name)
                manifest = LexicalSnapshotManifest(
                    format=SNAPSHOT_FORMAT,
                    analyzer_version=ANALYZER_VERSION,
                    created_at=time.time(),
                    num_docs=self.num_docs,
                    offsets={int(p): int(o) for p, o in (offsets or {}).items()},
                )
                _write_manifest(staging / MANIFEST_NAME, manifest)
            finally:
                self._writer = self._open_writer()
        _replace_dir(staging, target)
        return manifest

    @classmethod
    def restore(
        cls,
        snapshot_dir: Path | str,
        directory: Path | str | None = None,
        config: LexicalIndexConfig | None = None,
    ) -> LexicalIndex:
        """Open a copy of a snapshot in ``directory`` (a fresh temp dir by default).

        The snapshot itself is never written to. The offsets it recorded are in
        :attr:`snapshot_offsets`; replay the topic from there.
        """
        snapshot_dir = Path(snapshot_dir)
        manifest = read_snapshot_manifest(snapshot_dir)
        work = Path(directory) if directory is not None else None
        if work is not None and work.exists() and any(work.iterdir()):
            raise FileExistsError(f"restore target {work} is not empty")
        if work is None:
            work = Path(tempfile.mkdtemp(prefix="streamrec-lexical-"))
        work.mkdir(parents=True, exist_ok=True)
        for entry in snapshot_dir.iterdir():
            if entry.is_file() and entry.name != MANIFEST_NAME:
                shutil.copy2(entry, work / entry.name)
        index = cls(work, config)
        index._owns_directory = directory is None
        index.snapshot_offsets = dict(manifest.offsets)
        return index

    def close(self) -> None:
        """Commit what is pending, stop the timer, release the writer (and a temp dir)."""
        self.stop_auto_refresh()
        with self._lock:
            if self._writer is not None:
                self.refresh()
                self._writer.wait_merging_threads()
                self._writer = None
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LexicalIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ---------------------------------------------------------------------

    def _open_writer(self) -> tantivy.IndexWriter:
        return self._index.writer(
            heap_size=self.config.writer_heap_bytes, num_threads=self.config.writer_threads
        )

    def _require_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            raise RuntimeError("the lexical index is closed")
        return self._writer

    def _field_text(self, text: str | None) -> str:
        return " ".join(self._normaliser.tokens(text, join_compounds=True))

    def _note_change(self) -> None:
        self._pending += 1
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        if self._is_due():
            self.refresh()

    def _is_due(self) -> bool:
        if self._pending >= self.config.commit_every_docs:
            return True
        oldest = self._oldest_pending
        return oldest is not None and (
            time.monotonic() - oldest >= self.config.commit_interval_ms / 1_000
        )

    def _terms(self, query: str) -> list[tuple[str, bool]]:
        """Unique stemmed query terms, each with whether it is a stopword."""
        surface = self._normaliser.tokens(query)
        if not surface:
            return []
        stemmed = self._analyzer.analyze(" ".join(surface))
        seen: dict[str, bool] = {}
        for token, term in zip(surface, stemmed, strict=False):
            if term not in seen:
                seen[term] = token in OPTIONAL_TERMS
            elif token not in OPTIONAL_TERMS:
                seen[term] = False
        return list(seen.items())[: self.config.max_query_terms]

    def _term_clause(self, term: str) -> tantivy.Query:
        cfg = self.config
        fields = (
            ("title", cfg.title_boost),
            ("category", cfg.category_boost),
            ("brand", cfg.brand_boost),
        )
        return tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boost_query(
                        tantivy.Query.term_query(self._schema, field, term, index_option="freq"),
                        boost,
                    ),
                )
                for field, boost in fields
                if boost > 0
            ]
        )

    def required_terms(self, n_terms: int, mode: SearchMode) -> int:
        """How many of ``n_terms`` content terms a match needs in ``mode``."""
        if n_terms <= 0:
            return 0
        if mode == "any":
            return 1
        if mode == "all" or n_terms <= self.config.strict_all_terms_up_to:
            return n_terms
        return max(1, min(n_terms, math.floor(self.config.strict_min_match_ratio * n_terms)))

    def _build_query(
        self, query: str, category: Sequence[str] | str | None, mode: SearchMode
    ) -> tantivy.Query | None:
        if mode not in ("strict", "any", "all", "tiered"):
            raise ValueError(f"unknown search mode {mode!r}")
        terms = self._terms(query)
        content = [t for t, is_stop in terms if not is_stop] or [t for t, _ in terms]
        optional = [t for t, is_stop in terms if is_stop and t not in content]
        if not content:
            return None
        required = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, self._term_clause(t)) for t in content],
            self.required_terms(len(content), mode),
        )
        clauses = [(tantivy.Occur.Must, required)]
        clauses.extend((tantivy.Occur.Should, self._term_clause(t)) for t in optional)
        if category:
            key = category_filter_key(category)
            if key:
                term = tantivy.Query.term_query(self._schema, "category_key", key)
                clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(term, 0.0)))
        return tantivy.Query.boolean_query(clauses)


def read_snapshot_manifest(snapshot_dir: Path | str) -> LexicalSnapshotManifest:
    """The manifest of a lexical snapshot; raises if it is missing or incompatible."""
    path = Path(snapshot_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{snapshot_dir} holds no lexical snapshot ({MANIFEST_NAME})")
    raw = json.loads(path.read_text())
    if raw.get("format") != SNAPSHOT_FORMAT or raw.get("analyzer_version") != ANALYZER_VERSION:
        raise ValueError(
            f"incompatible lexical snapshot {snapshot_dir}: format {raw.get('format')!r}, "
            f"analyzer {raw.get('analyzer_version')!r}; rebuild it by replay"
        )
    return LexicalSnapshotManifest(
        format=raw["format"],
        analyzer_version=int(raw["analyzer_version"]),
        created_at=float(raw["created_at"]),
        num_docs=int(raw["num_docs"]),
        offsets={int(p): int(o) for p, o in raw.get("offsets", {}).items()},
    )


def _write_manifest(path: Path, manifest: LexicalSnapshotManifest) -> None:
    payload = {
        "format": manifest.format,
        "analyzer_version": manifest.analyzer_version,
        "created_at": manifest.created_at,
        "num_docs": manifest.num_docs,
        "offsets": {str(p): o for p, o in sorted(manifest.offsets.items())},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def _replace_dir(staging: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
