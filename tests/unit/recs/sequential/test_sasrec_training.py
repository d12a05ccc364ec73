"""SASRec on a tiny synthetic log whose next item depends on the item two steps back,
which item-to-item transitions cannot see. Skipped without the ``train`` extra."""

import random

import pytest

torch = pytest.importorskip("torch")

from streamrec.evaluation.next_item_comparison import (  # noqa: E402
    baseline_models,
    score_next_item_models,
)
from streamrec.recs.sequential.item_vocabulary import item_vocabulary  # noqa: E402
from streamrec.recs.sequential.sasrec_config import SasrecConfig  # noqa: E402
from streamrec.recs.sequential.sasrec_network import sasrec_network  # noqa: E402
from streamrec.recs.sequential.sasrec_recommender import SasrecRecommender  # noqa: E402
from streamrec.recs.sequential.sasrec_trainer import train_sasrec  # noqa: E402
from streamrec.recs.sequential.validation_split import (  # noqa: E402
    ValidationCase,
    validation_split,
)

CUES = [f"cue{i}" for i in range(40)]
NOISE = [f"noise{i}" for i in range(8)]
TARGETS = {cue: f"target{i}" for i, cue in enumerate(CUES)}
TINY = SasrecConfig(dim=32, max_len=8, blocks=2, heads=1, dropout=0.1, negatives=0,
                    batch_size=64, learning_rate=5e-3, epochs=25, patience=4, k=5, seed=3)


def _sequence(rng: random.Random, patterns: int) -> list[str]:
    """``cue, noise, target(cue)`` repeated: the target follows the cue two steps back."""
    out: list[str] = []
    for _ in range(patterns):
        cue = rng.choice(CUES)
        out += [cue, rng.choice(NOISE), TARGETS[cue]]
    return out


def _log(seed: int = 0) -> tuple[list[list[str]], list[ValidationCase]]:
    rng = random.Random(seed)
    training = [_sequence(rng, rng.randint(1, 2)) for _ in range(1500)]
    cases = []
    for _ in range(200):
        sequence = _sequence(rng, rng.randint(1, 2))
        cases.append(ValidationCase(sequence[:-1], sequence[-1]))
    return training, cases


def test_sasrec_learns_what_transitions_cannot():
    training, cases = _log()
    split = validation_split(training, 150, seed=1, min_history=2)
    run = train_sasrec(split.training, split.validation, TINY)
    scored = score_next_item_models(cases, 5, {"": True},
                                    {**baseline_models(training), "sasrec": run.recommender})
    hr = {name: s.scores.summary(0)["hr@5"] for name, s in scored.items()}
    assert hr["transitions"] < 0.35  # the last item (noise) says little about the target
    assert hr["sasrec"] > 0.8
    assert hr["sasrec"] > hr["transitions"] + 0.4
    assert run.best_epoch >= 1 and run.best["hr@5"] > 0.8
    assert len(run.epochs) <= TINY.epochs


def test_training_is_deterministic_for_a_seed():
    training, cases = _log(seed=5)
    config = SasrecConfig(**{**TINY.to_dict(), "epochs": 2, "patience": 2})
    split = validation_split(training[:300], 30, seed=1)
    first = train_sasrec(split.training, split.validation, config)
    second = train_sasrec(split.training, split.validation, config)
    assert first.epochs[-1]["loss"] == second.epochs[-1]["loss"]
    history = cases[0].history
    assert first.recommender.recommend(history, 5) == second.recommender.recommend(history, 5)


@pytest.mark.parametrize("loss", ["sampled_softmax", "bce"])
def test_every_loss_trains(loss):
    training, _ = _log(seed=2)
    config = SasrecConfig(**{**TINY.to_dict(), "loss": loss, "negatives": 16, "epochs": 1})
    run = train_sasrec(training[:200], [], config)
    assert len(run.epochs) == 1 and run.epochs[0]["loss"] > 0


def test_recommend_excludes_history_and_handles_unknown_items():
    vocabulary = item_vocabulary([["a", "b", "c"], ["a", "d"]])
    torch.manual_seed(0)
    network = sasrec_network(SasrecConfig(dim=8, max_len=4, negatives=0), len(vocabulary))
    recommender = SasrecRecommender(network, vocabulary)
    assert set(recommender.recommend(["a", "b"], 10)) == {"c", "d"}
    assert len(recommender.recommend(["a", "b"], 10, exclude_history=False)) == 4
    assert recommender.recommend(["unknown"], 2) == ["a", "b"]  # most frequent first
    assert recommender.recommend([], 1) == ["a"]
    assert recommender.recommend(["unknown", "a"], 3) == recommender.recommend(["a"], 3)


def test_padding_does_not_change_the_scores():
    vocabulary = item_vocabulary([["a", "b", "c", "d", "e"]])
    torch.manual_seed(0)
    network = sasrec_network(SasrecConfig(dim=8, max_len=6, heads=2, negatives=0),
                             len(vocabulary))
    network.eval()
    with torch.inference_mode():
        bare = network(torch.tensor([[1, 2, 3]]))
        padded = network(torch.tensor([[0, 0, 0, 1, 2, 3]]))
    assert torch.allclose(bare, padded, atol=1e-5)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # fixed length, on purpose
def test_onnx_export_answers_like_torch(tmp_path):
    from streamrec.recs.sequential.sasrec_onnx import (
        OnnxSasrecRecommender,
        export_sasrec_onnx,
    )

    vocabulary = item_vocabulary([list("abcdefghij")])
    torch.manual_seed(0)
    config = SasrecConfig(dim=8, max_len=6, heads=2, negatives=0)
    network = sasrec_network(config, len(vocabulary))
    path = export_sasrec_onnx(network, tmp_path / "sasrec.onnx")
    onnx = OnnxSasrecRecommender(path, vocabulary, config.max_len)
    in_torch = SasrecRecommender(network, vocabulary)
    for history in (["a"], ["c", "a", "b"], list("abcdefgh"), ["unknown"]):
        for exclude in (True, False):
            assert (onnx.recommend(history, 4, exclude_history=exclude)
                    == in_torch.recommend(history, 4, exclude_history=exclude))
