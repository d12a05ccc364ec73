import asyncio

import pytest

from streamrec.recs.candidate import Candidate
from streamrec.recs.candidate_generator import (
    CandidateGenerator,
    CandidateGeneratorConfig,
    SourceSpec,
    normalised,
)
from streamrec.recs.user_profile import UserProfile
from tests.unit.recs.recs_fakes import FailingSource, StaticSource

T0 = 1_700_000_000_000


def profile_with(purchased=(), viewed=()):
    profile = UserProfile("u1")
    for i, sku in enumerate(viewed):
        profile.apply({"sku": sku, "type": "VIEW", "ts": T0 + i}, None, [])
    for i, sku in enumerate(purchased):
        profile.apply({"sku": sku, "type": "PURCHASE", "ts": T0 + 100 + i}, None, [])
    return profile


def config(*specs, **kw):
    return CandidateGeneratorConfig(sources=tuple(specs), **kw)


def generate(generator, profile):
    return asyncio.run(generator.generate(profile))


def test_blending_normalises_weights_and_sums_across_sources():
    covis = StaticSource("item-based/co-visitation", [("a", 10.0), ("b", 5.0)], via="seed")
    ann = StaticSource("embedding/interest-ann", [("b", 0.9), ("c", 0.45)])
    generator = CandidateGenerator([covis, ann], config(
        SourceSpec("item-based/co-visitation", 1.0), SourceSpec("embedding/interest-ann", 2.0)))
    result = generate(generator, profile_with())
    scores = {c.sku: c.score for c in result.candidates}
    assert scores == pytest.approx({"b": 0.5 + 2.0, "a": 1.0, "c": 1.0})
    b = result.candidates[0]
    assert b.sku == "b"
    assert b.sources == ("embedding/interest-ann", "item-based/co-visitation")  # largest first
    assert b.via_sku == "seed"  # the only contribution with an explanation
    assert result.sources_used == ("item-based/co-visitation", "embedding/interest-ann")
    assert result.fetched == {"item-based/co-visitation": 2, "embedding/interest-ann": 2}
    assert set(result.timings_ms) == {"item-based/co-visitation", "embedding/interest-ann"}


def test_purchased_items_are_never_recommended_even_with_custom_filters():
    source = StaticSource("popular/trending", [("bought", 9.0), ("new", 1.0)])
    generator = CandidateGenerator([source], config(SourceSpec("popular/trending")), filters=[])
    result = generate(generator, profile_with(purchased=["bought"]))
    assert [c.sku for c in result.candidates] == ["new"]
    assert result.removed == {"purchased": 1}


def test_seen_items_filtered_only_when_configured():
    source = StaticSource("popular/trending", [("viewed", 9.0), ("new", 1.0)])
    spec = SourceSpec("popular/trending")
    profile = profile_with(viewed=["viewed"])
    kept = generate(CandidateGenerator([source], config(spec)), profile)
    assert [c.sku for c in kept.candidates] == ["viewed", "new"]
    dropped = generate(CandidateGenerator([source], config(spec, filter_seen=True)), profile)
    assert [c.sku for c in dropped.candidates] == ["new"]


def test_unavailable_and_unknown_items_filtered_by_index_metadata():
    source = StaticSource("popular/trending", [("on", 3.0), ("off", 2.0), ("gone", 1.0)])
    metadata = {"on": {"available": True}, "off": {"available": False}}
    generator = CandidateGenerator([source], config(SourceSpec("popular/trending")),
                                   item_lookup=metadata.get)
    result = generate(generator, profile_with())
    assert [c.sku for c in result.candidates] == ["on"]
    assert result.removed == {"purchased": 0, "unavailable": 2}


def test_top_n_and_empty_sources():
    full = StaticSource("popular/trending", [(f"i{n}", 100.0 - n) for n in range(10)])
    empty = StaticSource("embedding/interest-ann", [])
    generator = CandidateGenerator([full, empty], config(
        SourceSpec("popular/trending"), SourceSpec("embedding/interest-ann"), top_n=3))
    result = generate(generator, profile_with())
    assert [c.sku for c in result.candidates] == ["i0", "i1", "i2"]
    assert result.sources_used == ("popular/trending", "embedding/interest-ann")
    nothing = CandidateGenerator([empty], config(SourceSpec("embedding/interest-ann")))
    assert generate(nothing, profile_with()).candidates == []


def test_a_failing_source_is_left_out():
    ok = StaticSource("popular/trending", [("a", 1.0)])
    generator = CandidateGenerator([ok, FailingSource()], config(
        SourceSpec("popular/trending"), SourceSpec("broken/source")))
    result = generate(generator, profile_with())
    assert [c.sku for c in result.candidates] == ["a"]
    assert "broken/source" in result.errors
    assert result.sources_used == ("popular/trending",)


def test_miswired_generator_fails_at_start_up():
    with pytest.raises(ValueError, match="without an instance"):
        CandidateGenerator([], config(SourceSpec("embedding/interest-ann")))
    with pytest.raises(ValueError, match="twice"):
        config(SourceSpec("a/b"), SourceSpec("a/b"))


def test_config_hash_tracks_configuration():
    def generator(weight=1.0, source_config=None, **kw):
        source = StaticSource("popular/trending", [], config=source_config or {"k": 1})
        return CandidateGenerator([source], config(SourceSpec("popular/trending", weight), **kw))

    base = generator().config_hash()
    assert base == generator().config_hash()
    assert len(base) == 16
    assert generator(weight=0.5).config_hash() != base
    assert generator(source_config={"k": 2}).config_hash() != base
    assert generator(filter_seen=True).config_hash() != base
    assert generator(version=2).config_hash() != base


def test_normalisation_by_rank_when_no_score_is_positive():
    ranked = normalised([Candidate("a", -0.1, "x"), Candidate("b", -0.5, "x"),
                         Candidate("a", -0.9, "x")])
    assert [(c.sku, s) for c, s in ranked] == [("a", 1.0), ("b", 0.5)]


def test_rank_normalisation_keeps_a_steep_source_s_tail_in_play():
    from streamrec.recs.candidate import Candidate
    from streamrec.recs.candidate_generator import blend

    steep = [Candidate("c1", 10.0, "co"), Candidate("c2", 1.0, "co"), Candidate("c3", 0.5, "co")]
    flat = [Candidate("a1", 0.80, "ann"), Candidate("a2", 0.79, "ann"),
            Candidate("a3", 0.78, "ann")]
    by_max = [c.sku for c in blend({"co": steep, "ann": flat}, {"co": 1.0, "ann": 0.8})]
    by_rank = [c.sku for c in blend({"co": steep, "ann": flat}, {"co": 1.0, "ann": 0.8},
                                    "rank")]
    assert by_max[:4] == ["c1", "a1", "a2", "a3"]  # the flat source buries c2 and c3
    assert by_rank == ["c1", "c2", "c3", "a1", "a2", "a3"]  # positions and weights decide
