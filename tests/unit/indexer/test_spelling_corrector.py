import time

import pytest

from streamrec.indexer.spelling_corrector import (
    SpellingCorrector,
    SpellingCorrectorConfig,
    osa_distance,
)

TITLES = {
    "p1": "DEWALT 20-Volt MAX Cordless Drill",
    "p2": "DEWALT Impact Driver Kit",
    "p3": "Frigidaire 25 cu. ft. Side by Side Refrigerator in Stainless Steel",
    "p4": "KOHLER Toilet Tank Lever in Polished Chrome",
    "p5": "Rheem Hot Water Heater 40 gal.",
    "p6": "Ryobi ONE+ Cordless String Trimmer",
    "p7": "Behr Deck Stain in Cedar",
    "p8": "Wood Deck Screws",
}


@pytest.fixture
def corrector():
    c = SpellingCorrector()
    for sku, title in TITLES.items():
        c.upsert(sku, title)
    return c


def test_osa_distance():
    assert osa_distance("drill", "drill", 2) == 0
    assert osa_distance("dril", "drill", 2) == 1
    assert osa_distance("dewlat", "dewalt", 2) == 1  # one transposition
    assert osa_distance("refrigrtor", "refrigerator", 2) == 2
    assert osa_distance("abc", "xyz", 2) == 3  # over the bound: max + 1
    assert osa_distance("", "ab", 2) == 2
    assert osa_distance("ca", "abc", 3) == 3  # OSA, not unrestricted Damerau


def test_corrects_misspellings_at_distance_one_and_two(corrector):
    assert corrector.correct_token("dewlat") == "dewalt"
    assert corrector.correct_token("toliet") == "toilet"
    assert corrector.correct_token("refrigrtor") == "refrigerator"
    assert corrector.correct_token("kohlr") == "kohler"
    result = corrector.correct("dewlat cordles dril")
    assert result.corrected == "dewalt cordless drill"
    assert result.changed
    assert result.corrections == (
        ("dewlat", "dewalt"),
        ("cordles", "cordless"),
        ("dril", "drill"),
    )


def test_known_words_inflections_numbers_units_and_short_tokens_are_left_alone(corrector):
    assert corrector.correct_token("drill") is None
    assert corrector.correct_token("drills") is None  # same stem as a known word
    assert corrector.correct_token("drilling") is None
    assert corrector.correct_token("20") is None
    assert corrector.correct_token("volts") is None  # a unit
    assert corrector.correct_token("ab") is None  # too short
    result = corrector.correct("20v dewalt drills")
    assert not result.changed
    assert result.corrected == "20 v dewalt drills"


def test_short_tokens_get_distance_one_only(corrector):
    assert corrector.correct_token("kitt") == "kit"
    assert corrector.correct_token("dxxk") is None  # "deck" is 2 edits away, token too short


def test_hopeless_tokens_stay(corrector):
    assert corrector.correct_token("zzzzqqqq") is None
    assert not corrector.correct("zzzzqqqq").changed


def test_frequency_breaks_ties():
    c = SpellingCorrector()
    c.upsert("a", "stain")
    c.upsert("b", "stain")
    c.upsert("c", "strain")
    # "stjain" is one edit from "stain" (2 products) and one from "strain" (1)
    assert c.correct_token("stjain") == "stain"
    c.upsert("d", "strain")
    c.upsert("e", "strain")
    assert c.correct_token("stjain") == "strain"


def test_splits_run_together_words(corrector):
    assert corrector.correct_token("hotwater") == "hot water"
    assert corrector.correct("deckscrews").corrected == "deck screws"


def test_incremental_updates_and_deletes():
    c = SpellingCorrector()
    assert c.correct_token("trimer") is None  # empty vocabulary
    c.upsert("a", "String Trimmer")
    assert c.correct_token("trimer") == "trimmer"
    c.upsert("a", "Leaf Blower")  # replaces the old words
    assert not c.is_known("trimmer")
    assert c.correct_token("trimer") is None
    assert c.correct_token("blowr") == "blower"
    c.delete("a")
    c.delete("unknown")
    assert c.vocabulary_size == 0 and len(c) == 0
    assert c.correct_token("blowr") is None
    c.upsert("b", "Leaf Blower")
    assert c.correct_token("blowr") == "blower"


def test_brand_and_category_words_join_the_vocabulary():
    c = SpellingCorrector()
    c.upsert("a", "Cordless Drill", ["Tools", "Power Tools"], "Makita")
    assert c.correct_token("makta") == "makita"
    assert c.is_known("power") and c.frequency("tools") == 1


def test_merging_the_delta_keeps_every_word_findable():
    c = SpellingCorrector(SpellingCorrectorConfig(merge_threshold=10))
    words = ["hammer", "wrench", "pliers", "ladder", "shovel", "faucet", "shower", "toilet"]
    for i, word in enumerate(words):
        c.upsert(f"s{i}", word)
    assert c._hashes.size > 0  # some words live in the merged arrays
    for word in words:
        assert c.correct_token(word[:-1] + "x" + word[-1]) == word


def test_bulk_load_and_save_load_round_trip(corrector, tmp_path):
    path = tmp_path / "spelling.json"
    corrector.save(path)
    loaded = SpellingCorrector.load(path)
    assert loaded.vocabulary_size == corrector.vocabulary_size
    assert len(loaded) == len(corrector)
    for query in ("dewlat cordles dril", "hotwater heatr", "toliet levr"):
        assert loaded.correct(query) == corrector.correct(query)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ValueError):
        SpellingCorrector.load(bad)


def test_empty_query_and_empty_vocabulary():
    c = SpellingCorrector()
    assert c.correct("").corrected == ""
    assert c.correct("anything goes").corrected == "anything goes"


def test_correction_is_fast(corrector):
    queries = ["dewlat cordles dril", "refrigrtor stainles", "hotwater heatr 40 gal"] * 100
    started = time.perf_counter()
    for q in queries:
        corrector.correct(q)
    per_query = (time.perf_counter() - started) / len(queries)
    assert per_query < 0.005  # well under 1 ms on an idle core; loose for shared CI
