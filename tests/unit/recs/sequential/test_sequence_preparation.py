"""The torch-free parts: vocabulary, validation split, padded training arrays, and the
comparison scorer (which must score exactly like the evaluation's baselines)."""

import numpy as np

from streamrec.evaluation.next_item_baselines import NextItemScores, transition_baseline
from streamrec.evaluation.next_item_comparison import baseline_models, score_next_item_models
from streamrec.recs.sequential.item_vocabulary import PADDING_ID, item_vocabulary
from streamrec.recs.sequential.sasrec_training_data import sasrec_training_data
from streamrec.recs.sequential.validation_split import ValidationCase, validation_split

SEQUENCES = [["a", "b", "c"], ["a", "b", "d"], ["x", "c", "e"], ["d", "a", "c"], ["e"]]


def test_vocabulary_orders_by_count_then_sku_and_skips_unknown():
    vocabulary = item_vocabulary(SEQUENCES)
    assert vocabulary.items[:2] == ("a", "c")
    assert vocabulary.ids["a"] == 1 and vocabulary.item(1) == "a"
    assert PADDING_ID not in vocabulary.ids.values()
    assert vocabulary.encode(["c", "zzz", "a"]) == [2, 1]
    assert len(vocabulary) == 6


def test_validation_split_holds_out_last_items_of_training_users_only():
    eval_histories = [["q", "r"], ["s", "t", "u"]]
    split = validation_split(SEQUENCES, 2, seed=3, extra_training=eval_histories)
    assert len(split.validation) == 2
    assert len(split.training) == len(SEQUENCES) + len(eval_histories)
    assert split.training[-2:] == eval_histories
    for case in split.validation:
        full = [*case.history, case.target]
        assert full in SEQUENCES
        assert case.history in split.training and full not in split.training
    assert split == validation_split(SEQUENCES, 2, seed=3, extra_training=eval_histories)


def test_validation_split_skips_short_sequences_and_caps_users():
    split = validation_split(SEQUENCES, 99, seed=0, min_history=2)
    assert len(split.validation) == 4  # ["e"] has no history
    assert all(len(case.history) >= 2 for case in split.validation)


def test_training_data_left_pads_inputs_and_shifted_targets():
    vocabulary = item_vocabulary(SEQUENCES)
    data = sasrec_training_data([["a", "b", "c"], ["e"], ["x", "c", "e", "d", "a"]],
                                vocabulary, max_len=3)
    ids = vocabulary.ids
    assert len(data) == 2  # ["e"] teaches nothing
    assert data.inputs[0].tolist() == [0, ids["a"], ids["b"]]
    assert data.targets[0].tolist() == [0, ids["b"], ids["c"]]
    assert data.inputs[1].tolist() == [ids["c"], ids["e"], ids["d"]]  # the last 4 items
    assert data.targets[1].tolist() == [ids["e"], ids["d"], ids["a"]]
    assert data.positions == 5
    batches = list(data.batches(1, np.random.default_rng(0)))
    assert sorted(b[0].shape[1] for b in batches) == [2, 3]  # cut to the longest row


def test_comparison_scores_like_the_evaluation_baselines():
    cases = [ValidationCase(["a", "b"], "c"), ValidationCase(["x"], "c"),
             ValidationCase(["d"], "a")]
    scored = score_next_item_models(cases, 2, {"": True, "_keep": False},
                                    baseline_models(SEQUENCES))
    assert list(scored) == ["popularity", "transitions", "popularity_keep", "transitions_keep"]
    expected = NextItemScores(2)
    transitions = transition_baseline(SEQUENCES)
    for case in cases:
        expected.add(transitions.recommend(case.history, 2, exclude_history=True), case.target)
    assert scored["transitions"].scores.summary(6) == expected.summary(6)
    assert len(scored["transitions"].seconds) == 3
    assert set(scored["popularity"].latency_ms()) == {"p50", "p99", "mean"}
