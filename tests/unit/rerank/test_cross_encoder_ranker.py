"""The ONNX serving side of a cross-encoder, on a tiny graph built here (no model weights).

The graph scores a (query, title) pair by how many title tokens it holds, so the
tokenisation of pairs, the three input tensors and the model file are all exercised.
"""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from streamrec.rerank.cross_encoder_ranker import FEATURE_SET, FEATURES, KIND, CrossEncoderRanker
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.rerank_stage_loader import load_reranker
from streamrec.rerank.reranker_model_file import RerankerModelFile, RerankModelMismatchError


def _title_length_graph(path: Path) -> Path:
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])
    nodes = [
        helper.make_node("Mul", ["token_type_ids", "attention_mask"], ["title_tokens"]),
        helper.make_node("Cast", ["title_tokens"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["as_float", "axes"], ["logits"], keepdims=1),
    ]
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, "title_length", inputs, [logits], [axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _model_file(tmp_path: Path, **changes) -> Path:
    _title_length_graph(tmp_path / "ce.onnx")
    fields = {"kind": KIND, "feature_set": FEATURE_SET, "features": list(FEATURES),
              "trained_at": "t", "data_hash": "h", "payload": "ce.onnx",
              "params": {"max_length": 16}}
    return RerankerModelFile(**{**fields, **changes}).save(tmp_path / "ce.json")


def test_scores_pairs_with_segment_ids_and_truncation(tmp_path: Path) -> None:
    ranker = load_reranker(_model_file(tmp_path))
    assert isinstance(ranker, CrossEncoderRanker) and ranker.name == "cross-encoder"
    candidates = [RerankCandidate("a", "drill", 1.0, 0),
                  RerankCandidate("b", "cordless hammer drill kit", 0.5, 1),
                  RerankCandidate("c", "word " * 50, 0.2, 2)]
    scores = ranker.score(RerankQuery("cordless drill"), candidates)
    # segment-1 tokens = title WordPieces + the final [SEP]: "drill" 1 + 1; "cord ##less
    # hammer drill kit" 5 + 1; the long title is cut so the pair fits 16 tokens: [CLS]
    # cord ##less drill [SEP] (5) + 10 title pieces + [SEP]
    assert scores.tolist() == [2.0, 6.0, 11.0]
    assert ranker.score(RerankQuery("x"), []).shape == (0,)


def test_refuses_other_inputs_and_a_missing_graph(tmp_path: Path) -> None:
    with pytest.raises(RerankModelMismatchError):
        CrossEncoderRanker.load(_model_file(tmp_path, features=["query_text"]))
    path = _model_file(tmp_path, payload="missing.onnx")
    with pytest.raises(FileNotFoundError):
        CrossEncoderRanker.load(path)
    assert np.isfinite(CrossEncoderRanker.load(_model_file(tmp_path)).score_pairs(
        [("a", "b")])).all()
