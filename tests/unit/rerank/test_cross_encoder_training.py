"""Training data, fine-tuning, ONNX export and serving of the cross-encoder, on a tiny
randomly initialised BERT (no weights from disk). Skipped without the ``train`` extra."""

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import BertConfig  # noqa: E402

from streamrec.rerank.cross_encoder_ranker import KIND, CrossEncoderRanker, pair_tokenizer  # noqa: E402
from streamrec.rerank.cross_encoder_training import (  # noqa: E402
    CrossEncoderTrainConfig,
    PairSet,
    fine_tune,
    init_model,
    pair_groups,
    save_checkpoint,
    torch_scorer,
    train_on_pairs,
    validation_quality,
    write_model,
)
from streamrec.rerank.rerank_stage_loader import load_reranker  # noqa: E402

TITLES = {"a": "cordless drill", "b": "garden hose", "c": "hammer drill kit", "d": "paint"}
JUDGMENTS = {"drill": {"a": 3.0, "c": 2.0}, "hose": {"b": 3.0, "d": 1.0},
             "paint roller": {"d": 2.5}}
FUSED = {"drill": [("b", 0.9), ("a", 0.8)], "hose": [("d", 0.7), ("b", 0.6), ("c", 0.5)],
         "paint roller": [("d", 0.4)]}


def _tiny_model() -> object:
    torch.manual_seed(0)
    return init_model(config=BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64,
                                        max_position_embeddings=64))


def _groups(split: str = "train"):
    return pair_groups(list(JUDGMENTS), JUDGMENTS, TITLES.__getitem__, FUSED.__getitem__,
                       depth=1, splits=lambda _q: split, keep=(split,))


def test_pair_groups_add_missed_positives_to_training_only() -> None:
    train = {g.query: g for g in _groups("train")}
    # the first fused candidate (unjudged "b" -> gain 0), then the judged ones it missed
    assert train["drill"].skus == ["b", "a", "c"]
    assert train["drill"].gains == pytest.approx([0.0, 1.0, 2 / 3])
    assert train["drill"].titles == ["garden hose", "cordless drill", "hammer drill kit"]
    validation = {g.query: g for g in _groups("validation")}
    assert validation["drill"].skus == ["b"]  # fused head only, in order
    assert not pair_groups(list(JUDGMENTS), JUDGMENTS, TITLES.__getitem__,
                           FUSED.__getitem__, 5, splits=lambda _q: "test")


def test_validation_quality_reorders_the_head() -> None:
    groups = pair_groups(list(JUDGMENTS), JUDGMENTS, TITLES.__getitem__, FUSED.__getitem__,
                         depth=5, splits=lambda _q: "validation", keep=("validation",))
    as_fused = validation_quality(groups, JUDGMENTS, lambda p: np.zeros(len(p)), 5)
    oracle = validation_quality(
        groups, JUDGMENTS,
        lambda pairs: np.array([JUDGMENTS[q].get(next(s for s, t in TITLES.items()
                                                      if t == title), 0.0)
                                for q, title in pairs]), 5)
    assert oracle["ndcg_at_10"] > as_fused["ndcg_at_10"]
    assert oracle["queries"] == 3


@pytest.mark.parametrize("loss", ["pointwise", "listwise"])
def test_fine_tune_export_and_serve_round_trip(tmp_path: Path, loss: str) -> None:
    torch.set_num_threads(1)
    model = _tiny_model()
    tokenizer = pair_tokenizer(max_length=16)
    cfg = CrossEncoderTrainConfig(loss=loss, max_steps=4, batch_size=4, list_size=2,
                                  eval_every=2, max_length=16, learning_rate=1e-3)
    validation = _groups("validation")
    history = fine_tune(model, tokenizer, _groups("train"), cfg,
                        lambda: validation_quality(validation, JUDGMENTS,
                                                   torch_scorer(model, tokenizer), 2))
    assert [h["step"] for h in history] == [0, 2, 4]

    pairs = [("drill", "cordless drill"), ("drill", "garden hose"),
             ("paint roller", "word " * 40)]  # the last is truncated to 16 tokens
    expected = torch_scorer(model, tokenizer)(pairs)
    assert expected.shape == (3,)
    np.testing.assert_array_equal(expected, torch_scorer(model, tokenizer)(pairs))

    for quantize, tolerance in ((False, 1e-4), (True, 0.05)):
        path = write_model(model, tokenizer, tmp_path / f"ce-{quantize}.json",
                           metrics={"split": "validation", "history": history},
                           params={"max_length": 16, "loss": loss}, data_hash="h",
                           split={"by": "query"}, quantize=quantize)
        ranker = load_reranker(path)
        assert isinstance(ranker, CrossEncoderRanker) and ranker.name == KIND
        assert ranker.model is not None and ranker.model.metrics["history"] == history
        served = ranker.score_pairs(pairs)
        assert served.shape == (3,) and served.dtype == np.float32
        # batch and sequence axes are dynamic: one pair alone scores as in the batch
        np.testing.assert_allclose(ranker.score_pairs(pairs[:1]), served[:1],
                                   atol=tolerance + 1e-5)
        np.testing.assert_allclose(served, expected, atol=tolerance)


def _pair_set():
    groups = pair_groups(list(JUDGMENTS), JUDGMENTS, TITLES.__getitem__, FUSED.__getitem__,
                         depth=2, splits=lambda q: "validation" if q == "hose" else "train")
    return PairSet(groups, JUDGMENTS, "encoder-id", "data-hash", 2,
                   {"train": 2, "validation": 1, "test": 0})


def test_pair_set_round_trips_and_refuses_other_files(tmp_path: Path) -> None:
    pairs = _pair_set()
    loaded = PairSet.load(pairs.save(tmp_path / "pairs.json.gz"))
    assert loaded == pairs
    hose = next(g for g in loaded.groups if g.query == "hose")
    assert hose.fused == [("d", 0.7), ("b", 0.6), ("c", 0.5)]  # tuples again, as retrieved
    assert all(not g.fused for g in loaded.groups if g.split == "train")  # never reordered
    assert not list(tmp_path.glob(".*"))  # staged file renamed away
    other = tmp_path / "other.json.gz"
    with gzip.open(other, "wt") as out:
        json.dump({"format": "something-else"}, out)
    with pytest.raises(ValueError, match="not a cross-encoder pair file"):
        PairSet.load(other)


def test_train_from_pairs_checkpoints_then_exports_from_the_checkpoint(tmp_path: Path) -> None:
    """The GPU-box flow on CPU: train from a pair file with a checkpoint and no export,
    then evaluate and export that checkpoint without further steps (--init, --max-steps 0)."""
    torch.set_num_threads(1)
    pairs = PairSet.load(_pair_set().save(tmp_path / "pairs.json.gz"))
    start = save_checkpoint(_tiny_model(), tmp_path / "start")
    cfg = CrossEncoderTrainConfig(max_steps=3, batch_size=2, eval_every=3, max_length=16,
                                  learning_rate=1e-3, threads=1)
    trained = train_on_pairs(pairs, None, cfg, weights_dir=start,
                             checkpoint_dir=tmp_path / "ckpt")
    assert [h["step"] for h in trained.history] == [0, 3]
    assert (tmp_path / "ckpt" / "config.json").is_file()
    saved = json.loads((tmp_path / "ckpt" / "training_metrics.json").read_text())
    assert saved["metrics"]["cross_encoder_fp32"] == trained.metrics["cross_encoder_fp32"]
    assert not list(tmp_path.glob("*.onnx"))

    exported = train_on_pairs(pairs, tmp_path / "ce.json",
                              dataclasses.replace(cfg, max_steps=0), weights_dir=tmp_path / "ckpt")
    assert [h["step"] for h in exported.history] == [0]
    # the checkpoint kept the best validation state, so it scores what training reported
    assert exported.metrics["cross_encoder_fp32"]["ndcg_at_10"] == \
        trained.metrics["cross_encoder_fp32"]["ndcg_at_10"]
    ranker = load_reranker(exported.model_path)
    assert ranker.model.params["init"] == str(tmp_path / "ckpt")
    assert ranker.model.metrics["cross_encoder_int8"]["queries"] == 1


@pytest.mark.parametrize("freeze", [True, False])
def test_frozen_word_embeddings_stay_as_loaded(freeze: bool) -> None:
    torch.set_num_threads(1)
    model = _tiny_model()
    words = model.get_input_embeddings().weight.detach().clone()
    head = model.classifier.weight.detach().clone()
    cfg = CrossEncoderTrainConfig(max_steps=2, batch_size=2, max_length=16,
                                  learning_rate=1e-2, freeze_embeddings=freeze)
    fine_tune(model, pair_tokenizer(max_length=16), _groups("train"), cfg)
    assert torch.equal(model.get_input_embeddings().weight, words) is freeze
    assert not torch.equal(model.classifier.weight, head)
