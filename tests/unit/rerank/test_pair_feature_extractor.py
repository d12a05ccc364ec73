import math

import numpy as np
import pytest

from streamrec.rerank.feature_schema import FEATURE_NAMES
from streamrec.rerank.pair_feature_extractor import PairFeatureExtractor
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery


def _row(matrix: np.ndarray, i: int) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, (float(v) for v in matrix[i]), strict=True))


@pytest.fixture(scope="module")
def extractor() -> PairFeatureExtractor:
    return PairFeatureExtractor()


def test_sizes_units_and_stems(extractor: PairFeatureExtractor) -> None:
    candidates = [
        RerankCandidate("a", "Simpson 60 in. x 1/2 in. Steel Angle Brackets (10-Pack)",
                        fused_score=0.9, fused_rank=0, bm25_score=12.0, bm25_rank=0,
                        vector_score=0.5, vector_rank=3),
        RerankCandidate("b", "Everbilt 36 in. Zinc Angle", fused_score=0.4, fused_rank=1,
                        bm25_score=6.0, bm25_rank=1, vector_score=0.6, vector_rank=0),
        RerankCandidate("c", "Door Hinge", fused_score=0.1, fused_rank=2,
                        vector_score=0.2, vector_rank=7),
    ]
    m = extractor.extract(RerankQuery("angle bracket 60 in"), candidates)
    assert m.shape == (3, len(FEATURE_NAMES)) and m.dtype == np.float32
    a, b, c = _row(m, 0), _row(m, 1), _row(m, 2)
    # "in" is a stopword: terms are angl, bracket, 60
    assert a["query_terms"] == 3
    assert a["stem_term_share"] == 1.0 and a["all_terms_covered"] == 1.0
    assert a["exact_term_share"] == pytest.approx(2 / 3)  # "bracket" vs "brackets"
    assert a["missing_terms"] == 0 and b["missing_terms"] == 2 and c["missing_terms"] == 3
    assert a["last_term_match"] == 1.0 and b["last_term_match"] == 0.0  # "bracket"
    assert b["first_term_match"] == 1.0  # "angle"
    assert a["number_match_share"] == 1.0 and b["number_match_share"] == 0.0
    assert a["number_unit_match_share"] == 1.0  # ("60", "in") in both
    assert a["query_numbers"] == 1
    assert a["bm25_score_rel"] == 1.0 and b["bm25_score_rel"] == 0.5
    assert c["bm25_score_rel"] == 0.0 and math.isnan(c["bm25_score"])
    assert math.isnan(c["bm25_rank"])
    assert b["vector_cosine_gap"] == 0.0 and a["vector_cosine_gap"] == pytest.approx(-0.1)
    assert c["fused_rank"] == 2 and a["fused_score"] == pytest.approx(0.9)
    assert a["title_terms"] == 11  # simpson 60 in x 1/2 in steel angle brackets 10 pack
    assert math.isnan(a["category_match"]) and math.isnan(a["category_agreement"])
    assert a["popularity_log"] == 0.0


def test_prefix_phrase_and_bigrams(extractor: PairFeatureExtractor) -> None:
    candidates = [RerankCandidate("a", "Cordless Drill Driver Kit", 1.0, 0),
                  RerankCandidate("b", "Drill Bits for Cordless Tools", 0.5, 1)]
    m = extractor.extract(RerankQuery("cordless drill"), candidates)
    a, b = _row(m, 0), _row(m, 1)
    assert a["phrase_match"] == 1.0 and b["phrase_match"] == 0.0
    assert a["bigram_share"] == 1.0 and b["bigram_share"] == 0.0
    assert math.isnan(a["number_match_share"]) and math.isnan(a["number_unit_match_share"])
    # a typed prefix still counts ("cordl" -> "cordless"), not as a stem match
    m = extractor.extract(RerankQuery("cordl drill"), candidates)
    assert _row(m, 0)["prefix_term_share"] == 1.0
    assert _row(m, 0)["stem_term_share"] == 0.5


def test_category_match_and_agreement(extractor: PairFeatureExtractor) -> None:
    tools = ("Tools", "Power Tools")
    candidates = [RerankCandidate("a", "Drill", 1.0, 0, category_path=tools, popularity=9.0),
                  RerankCandidate("b", "Drill", 0.9, 1, category_path=tools),
                  RerankCandidate("c", "Drill Press", 0.8, 2, category_path=("Garden",)),
                  RerankCandidate("d", "Drill", 0.7, 3)]
    m = extractor.extract(RerankQuery("drill", category="tools > power tools"), candidates)
    assert _row(m, 0)["category_match"] == 1.0 and _row(m, 2)["category_match"] == 0.0
    assert _row(m, 0)["category_agreement"] == pytest.approx(2 / 3)
    assert _row(m, 2)["category_agreement"] == pytest.approx(1 / 3)
    assert math.isnan(_row(m, 3)["category_agreement"])
    assert _row(m, 0)["popularity_log"] == pytest.approx(math.log1p(9.0))
    m = extractor.extract(RerankQuery("drill"), candidates)
    assert math.isnan(_row(m, 0)["category_match"])


def test_no_candidates_and_empty_query(extractor: PairFeatureExtractor) -> None:
    assert extractor.extract(RerankQuery("drill"), []).shape == (0, len(FEATURE_NAMES))
    m = extractor.extract(RerankQuery("!!!"), [RerankCandidate("a", "Drill", 1.0, 0)])
    assert _row(m, 0)["query_terms"] == 0 and math.isnan(_row(m, 0)["stem_term_share"])


def test_character_trigrams_survive_misspellings(extractor: PairFeatureExtractor) -> None:
    candidates = [RerankCandidate("a", "Window Air Conditioner 10,000 BTU", 1.0, 0),
                  RerankCandidate("b", "Garden Hose", 0.5, 1)]
    m = extractor.extract(RerankQuery("windowair condiioner"), candidates)
    a, b = _row(m, 0), _row(m, 1)
    assert a["stem_term_share"] == 0.0  # no word matches as typed
    assert a["trigram_coverage"] > 0.6 and b["trigram_coverage"] < 0.1
    assert 0 < a["trigram_jaccard"] < a["trigram_coverage"]
    m = extractor.extract(RerankQuery("air conditioner"), candidates)
    # window air [conditioner] 10000 btu: position 2 of 0..4
    assert _row(m, 0)["last_term_position"] == pytest.approx(0.5)
    assert math.isnan(_row(m, 1)["last_term_position"])


def test_list_context_and_title_noun(extractor: PairFeatureExtractor) -> None:
    candidates = [RerankCandidate("a", "Everbilt Zinc Corner Brace (4-Pack)", 1.0, 0),
                  RerankCandidate("b", "Simpson Strong-Tie 12-Gauge Angle", 0.5, 1),
                  RerankCandidate("c", "Angle Bracket Kit 60 in.", 0.4, 2)]
    m = extractor.extract(RerankQuery("angle bracket"), candidates)
    a, b, c = _row(m, 0), _row(m, 1), _row(m, 2)
    assert c["prefix_share_gap"] == 0.0 and b["prefix_share_gap"] == -0.5
    assert a["prefix_share_gap"] == -1.0
    assert c["trigram_coverage_gap"] == 0.0
    assert a["trigram_coverage_gap"] < b["trigram_coverage_gap"] < 0
    # last word that is not a number or unit: "pack", "angle", "kit"
    assert (a["title_noun_in_query"], b["title_noun_in_query"], c["title_noun_in_query"]) == \
        (0.0, 1.0, 0.0)


def test_prepared_titles_fill_free_cache_room_only_and_change_no_feature() -> None:
    titles = [f"Steel Angle Bracket {n} in" for n in range(6)]
    candidates = [RerankCandidate(str(i), t, 1.0 - i / 10, i) for i, t in enumerate(titles)]
    query = RerankQuery("angle bracket 3 in")
    cold = PairFeatureExtractor(title_cache_size=4)
    expected = cold.extract(query, candidates)

    fresh = PairFeatureExtractor(title_cache_size=4)
    assert fresh.prepare_titles([titles[0], None, "", titles[0], titles[1]]) == 2
    assert fresh.prepare_titles(titles) == 2  # room for two more, then it stops
    info = fresh._analyse_title.cache_info()
    assert info.currsize == 4 and info.misses == 4  # nothing evicted, nothing analysed twice
    hits = info.hits
    np.testing.assert_array_equal(fresh.extract(query, candidates), expected)
    assert fresh._analyse_title.cache_info().hits - hits == 4  # the prepared four served it
