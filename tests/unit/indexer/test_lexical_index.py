import json
import time

import pytest

from streamrec.indexer.lexical_index import (
    MANIFEST_NAME,
    LexicalIndex,
    LexicalIndexConfig,
    ProductTextNormaliser,
    category_filter_keys,
    read_snapshot_manifest,
)

MANUAL = LexicalIndexConfig(commit_every_docs=1_000_000, commit_interval_ms=3_600_000)

CATALOG = [
    (
        "drill-1",
        "DEWALT 20-Volt MAX Cordless Drill/Driver Kit",
        ["Tools", "Power Tools", "Drills"],
        "DEWALT",
    ),
    ("drill-2", "Ryobi 18-Volt ONE+ Hammer Drill", ["Tools", "Power Tools", "Drills"], "Ryobi"),
    ("elbow-half", "Charlotte Pipe 1/2 in. PVC 90-Degree Elbow", ["Plumbing", "Fittings"], None),
    ("elbow-3q", "Charlotte Pipe 3/4 in. PVC 90-Degree Elbow", ["Plumbing", "Fittings"], None),
    ("cafe-table", "Caf\u00e9 Bistro Table in Black", ["Outdoors", "Patio Furniture"], "Hampton"),
    ("deck", "BEHR DeckOver 1-gal. Wood &amp; Concrete Coating", "Paint > Exterior Stain", "BEHR"),
]


@pytest.fixture
def index(tmp_path):
    idx = LexicalIndex(tmp_path / "lexical", MANUAL)
    for sku, title, path, brand in CATALOG:
        idx.upsert(sku, title, path, brand)
    idx.refresh()
    yield idx
    idx.close()


def skus(results):
    return [sku for sku, _ in results]


# ---- normalisation -------------------------------------------------------------------


def test_normaliser_keeps_numbers_and_canonicalises_units():
    n = ProductTextNormaliser()
    assert n.tokens("1/2 in. PVC elbow") == ["1/2", "in", "pvc", "elbow"]
    assert n.tokens("DEWALT 20v drill") == ["dewalt", "20", "volt", "drill"]
    assert n.tokens("3/4\" x 10' pipe") == ["3/4", "in", "x", "10", "ft", "pipe"]
    assert n.tokens("1.9 cu. ft. 1,000 lbs") == ["1.9", "cu", "ft", "1000", "lb"]
    assert n.tokens("\u00bd\u2033 Caf\u00e9 90\u00b0") == ["1/2", "in", "cafe", "90", "deg"]
    assert n.tokens("Wood &amp; Men's") == ["wood", "mens"]
    assert n.tokens("T-Molding", join_compounds=True) == ["t", "molding", "tmolding"]
    assert n.tokens("20 volts", canonical_units=False) == ["20", "volts"]
    assert n.tokens("") == [] and n.tokens(None) == []


def test_category_filter_keys_are_prefixes_and_levels():
    assert category_filter_keys(["Tools", "Power  Tools"]) == [
        "tools",
        "tools>power tools",
        "power tools",
    ]
    assert category_filter_keys("A > B") == ["a", "a>b", "b"]
    assert category_filter_keys(None) == []


def test_query_terms_are_stemmed():
    with LexicalIndex(config=MANUAL) as idx:
        assert idx.query_terms("Drilling hammers") == ["drill", "hammer"]


# ---- updates and visibility ------------------------------------------------------------


def test_upsert_is_visible_only_after_refresh(tmp_path):
    with LexicalIndex(tmp_path / "ix", MANUAL) as idx:
        idx.upsert("a", "Cordless Drill", ["Tools"], "DEWALT")
        assert idx.search("drill") == []
        assert idx.staleness_s > 0
        assert idx.refresh() == 1
        assert skus(idx.search("drill")) == ["a"]
        assert idx.staleness_s == 0.0
        assert idx.num_docs == len(idx) == 1


def test_update_replaces_the_old_document(index):
    index.upsert("drill-2", "Ryobi Cordless Leaf Blower", ["Outdoors"], "Ryobi")
    index.refresh()
    assert "drill-2" not in skus(index.search("hammer drill", mode="any"))
    assert skus(index.search("leaf blower")) == ["drill-2"]
    assert index.num_docs == len(CATALOG)


def test_delete_removes_and_unknown_delete_is_harmless(index):
    index.delete("drill-1")
    index.delete("no-such-sku")
    index.refresh()
    assert "drill-1" not in skus(index.search("drill", k=10))
    assert index.num_docs == len(CATALOG) - 1


def test_upsert_then_delete_in_one_batch_leaves_nothing(tmp_path):
    with LexicalIndex(tmp_path / "ix", MANUAL) as idx:
        idx.upsert("a", "Garden Hose", None, None)
        idx.delete("a")
        idx.refresh()
        assert idx.search("hose") == [] and idx.num_docs == 0


# ---- search semantics -----------------------------------------------------------------


def test_stemming_matches_inflections(index):
    assert set(skus(index.search("drills"))) == {"drill-1", "drill-2"}
    assert "drill-2" in skus(index.search("hammer drilling"))


def test_numbers_and_fractions_discriminate(index):
    assert skus(index.search("1/2 in pvc elbow"))[0] == "elbow-half"
    assert skus(index.search('1/2" pvc elbow'))[0] == "elbow-half"
    assert skus(index.search("3/4 pvc elbow"))[0] == "elbow-3q"
    assert skus(index.search("3/4 pvc elbow", mode="all")) == ["elbow-3q"]
    assert skus(index.search("dewalt 20v drill")) == ["drill-1"]
    assert skus(index.search("18 volt drill")) == ["drill-2"]


def test_ascii_folding_and_html_entities(index):
    assert skus(index.search("cafe table")) == ["cafe-table"]
    assert skus(index.search("caf\u00e9")) == ["cafe-table"]
    assert skus(index.search("wood concrete coating")) == ["deck"]
    assert skus(index.search("deckover")) == ["deck"]


def test_brand_and_category_words_are_searchable_but_title_weighs_more(tmp_path):
    with LexicalIndex(tmp_path / "ix", MANUAL) as idx:
        idx.upsert("in-title", "Makita Drill", ["Tools"], "Makita")
        idx.upsert("in-category", "Makita Impact Driver", ["Tools", "Drill"], "Makita")
        idx.upsert("in-brand", "Impact Driver Bits", ["Tools"], "Drill")
        idx.refresh()
        assert skus(idx.search("drill"))[0] == "in-title"
        assert set(skus(idx.search("drill"))) == {"in-title", "in-category", "in-brand"}


def test_category_filter(index):
    assert set(skus(index.search("drill", category="Tools"))) == {"drill-1", "drill-2"}
    assert set(skus(index.search("drill", category="tools > power tools"))) == {
        "drill-1",
        "drill-2",
    }
    assert set(skus(index.search("drill", category=["Tools", "Power Tools", "Drills"]))) == {
        "drill-1",
        "drill-2",
    }
    assert set(skus(index.search("drill", category="drills"))) == {"drill-1", "drill-2"}
    assert index.search("drill", category="Plumbing") == []
    assert skus(index.search("elbow", category="Plumbing > Fittings", k=1)) in (
        ["elbow-half"],
        ["elbow-3q"],
    )
    assert skus(index.search("coating", category="paint")) == ["deck"]


def test_search_hits_carry_category_paths(index):
    hits = index.search_hits("dewalt drill", k=1)
    assert hits[0].sku == "drill-1"
    assert hits[0].category_path == ("Tools", "Power Tools", "Drills")
    assert hits[0].score > 0


def test_strict_needs_most_terms_and_any_needs_one(index):
    query = "dewalt cordless drill purple unicorn"  # 3 of 5 content terms match drill-1
    assert index.required_terms(5, "strict") == 3
    assert skus(index.search(query)) == ["drill-1"]
    query = "dewalt purple unicorn sparkles"  # 1 of 4
    assert index.search(query) == []
    assert skus(index.search(query, mode="any")) == ["drill-1"]
    assert index.search("dewalt cordless drill purple", mode="all") == []
    assert skus(index.search("dewalt cordless drill", mode="all")) == ["drill-1"]


def test_required_terms_table():
    with LexicalIndex(config=MANUAL) as idx:
        assert [idx.required_terms(n, "strict") for n in range(6)] == [0, 1, 2, 2, 3, 3]
        assert [idx.required_terms(n, "any") for n in range(3)] == [0, 1, 1]
        assert idx.required_terms(4, "all") == 4


def test_stopwords_and_units_do_not_count_for_strict(index):
    # "with", "the" and the unit "in" are optional; "pvc elbow" alone decides
    assert set(skus(index.search("pvc elbow with the in"))) == {"elbow-half", "elbow-3q"}
    # a query of stopwords only still searches them
    assert index.search("the with") == []


def test_any_mode_ranks_more_matching_terms_first(index):
    assert skus(index.search("ryobi hammer drill", mode="any"))[0] == "drill-2"


def test_empty_and_degenerate_queries(index):
    assert index.search("") == []
    assert index.search("   ?!  ") == []
    assert index.search("drill", k=0) == []
    with pytest.raises(ValueError):
        index.search("drill", mode="fuzzy")  # type: ignore[arg-type]


def test_empty_catalog_returns_nothing(tmp_path):
    with LexicalIndex(tmp_path / "ix", MANUAL) as idx:
        assert idx.search("drill") == [] and idx.search("drill", mode="any") == []
        assert idx.num_docs == 0
        assert idx.refresh() == 0


# ---- commit policy and staleness --------------------------------------------------------


def test_commit_every_n_docs(tmp_path):
    config = LexicalIndexConfig(commit_every_docs=3, commit_interval_ms=3_600_000)
    with LexicalIndex(tmp_path / "ix", config) as idx:
        idx.upsert("a", "red hose", None, None)
        idx.upsert("b", "blue hose", None, None)
        assert idx.search("hose") == []
        idx.upsert("c", "green hose", None, None)  # third change commits
        assert len(idx.search("hose")) == 3
        assert idx.stats().commits == 1


def test_commit_interval_bounds_staleness(tmp_path):
    config = LexicalIndexConfig(commit_every_docs=1_000_000, commit_interval_ms=300)
    with LexicalIndex(tmp_path / "ix", config) as idx:
        idx.upsert("a", "red hose", None, None)
        assert idx.refresh_if_due() is False
        assert idx.search("hose") == []
        time.sleep(0.32)
        assert idx.refresh_if_due() is True
        assert skus(idx.search("hose")) == ["a"]
        stats = idx.stats()
        assert stats.pending_changes == 0 and stats.staleness_s == 0.0
        assert 0.3 <= stats.visible_lag_max_s < 1.0
        # a write after the interval commits itself, the oldest change included
        idx.upsert("b", "blue hose", None, None)
        time.sleep(0.32)
        idx.upsert("c", "green hose", None, None)
        assert len(idx.search("hose")) == 3


def test_auto_refresh_makes_changes_visible_within_a_second(tmp_path):
    config = LexicalIndexConfig(commit_every_docs=1_000_000, commit_interval_ms=100)
    with LexicalIndex(tmp_path / "ix", config) as idx:
        idx.start_auto_refresh()
        started = time.monotonic()
        idx.upsert("a", "red hose", None, None)
        while not idx.search("hose") and time.monotonic() - started < 2.0:
            time.sleep(0.005)
        assert time.monotonic() - started < 1.0
        assert idx.stats().visible_lag_p99_s < 1.0
        idx.stop_auto_refresh()


# ---- snapshots ------------------------------------------------------------------------


def test_snapshot_round_trip_with_offsets(index, tmp_path):
    target = tmp_path / "snap"
    manifest = index.snapshot(target, offsets={0: 120, 3: 7})
    assert manifest.num_docs == len(CATALOG) and manifest.offsets == {0: 120, 3: 7}
    assert json.loads((target / MANIFEST_NAME).read_text())["offsets"] == {"0": 120, "3": 7}
    assert read_snapshot_manifest(target).offsets == {0: 120, 3: 7}

    # the source keeps working after a snapshot
    index.upsert("late", "Late Arrival Drill", ["Tools"], None)
    index.refresh()
    assert "late" in skus(index.search("drill", k=10))

    restored = LexicalIndex.restore(target, tmp_path / "restored", MANUAL)
    try:
        assert restored.snapshot_offsets == {0: 120, 3: 7}
        assert restored.num_docs == len(CATALOG)
        assert "late" not in skus(restored.search("drill", k=10))
        for query in ("dewalt 20v drill", "1/2 in pvc elbow", "cafe"):
            expected = [(s, v) for s, v in index.search(query) if s != "late"]
            got = restored.search(query)
            assert skus(got) == skus(expected)
        restored.upsert("new", "Brand New Drill", ["Tools"], None)
        restored.refresh()
        assert "new" in skus(restored.search("drill", k=10))
    finally:
        restored.close()
    # the snapshot itself was not written to
    assert read_snapshot_manifest(target).num_docs == len(CATALOG)
    again = LexicalIndex.restore(target, config=MANUAL)
    try:
        assert "new" not in skus(again.search("drill", k=10))
    finally:
        again.close()


def test_snapshot_replaces_an_existing_snapshot(index, tmp_path):
    target = tmp_path / "snap"
    index.snapshot(target, offsets={0: 1})
    index.delete("drill-1")
    index.snapshot(target, offsets={0: 2})
    assert read_snapshot_manifest(target).offsets == {0: 2}
    assert read_snapshot_manifest(target).num_docs == len(CATALOG) - 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("snap.")]


def test_restore_refuses_bad_inputs(index, tmp_path):
    with pytest.raises(FileNotFoundError):
        LexicalIndex.restore(tmp_path / "nothing-here")
    target = tmp_path / "snap"
    index.snapshot(target)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(FileExistsError):
        LexicalIndex.restore(target, busy)
    raw = json.loads((target / MANIFEST_NAME).read_text())
    raw["analyzer_version"] = -1
    (target / MANIFEST_NAME).write_text(json.dumps(raw))
    with pytest.raises(ValueError):
        LexicalIndex.restore(target)


def test_reopening_a_directory_keeps_committed_documents(tmp_path):
    path = tmp_path / "ix"
    idx = LexicalIndex(path, MANUAL)
    idx.upsert("a", "Garden Hose", None, None)
    idx.close()  # commits what is pending
    reopened = LexicalIndex(path, MANUAL)
    try:
        assert skus(reopened.search("hose")) == ["a"]
    finally:
        reopened.close()
    assert path.exists()  # not owned: kept


def test_temporary_directory_is_removed_on_close():
    idx = LexicalIndex(config=MANUAL)
    directory = idx.directory
    assert directory.exists()
    idx.close()
    assert not directory.exists()
    with pytest.raises(RuntimeError):
        idx.upsert("a", "x", None, None)


def test_tiered_puts_strict_matches_first_then_fills_with_relaxed(index):
    query = "dewalt cordless drill hammer"  # strict (3 of 4): only drill-1
    assert skus(index.search(query)) == ["drill-1"]
    tiered = index.search(query, k=5, mode="tiered")
    assert skus(tiered)[0] == "drill-1"
    assert set(skus(tiered)) == set(skus(index.search(query, k=5, mode="any")))
    scores = [score for _, score in tiered]
    assert scores == sorted(scores, reverse=True)
    assert skus(index.search(query, k=1, mode="tiered")) == ["drill-1"]
    assert index.search("qqqq", mode="tiered") == []
    # a caller holding the strict hits (search's first stage) gets the same tiered answer
    strict = index.search_hits(query, 5, None, "strict")
    assert index.tiered_after_strict(query, 5, None, strict) == tiered
