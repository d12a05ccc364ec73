"""A MiniLM cross-encoder on ONNX Runtime: reads query and title together, one logit each.

Serving side only, for now: a model file of kind ``cross-encoder`` names an ONNX graph
(inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output one logit per
pair, e.g. a fine-tuned MiniLM exported and quantised to int8) next to it; serving needs
only ONNX Runtime and the vendored WordPiece tokenizer, like the bi-encoder. The
fine-tuning is not in the tree yet: PyTorch from PyPI is a CUDA build here (see
docs/design.md). Far more expensive per candidate
than LightGBM (a transformer pass per pair), so the budget gives it a shallower depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.indexer.onnx_minilm_encoder import VENDORED_TOKENIZER
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankerModelFile, load_model_file

KIND = "cross-encoder"
FEATURE_SET = "streamrec.rerank.cross-encoder/1"
FEATURES = ("query_text", "title_text")
"""A cross-encoder's "features" are its two texts, paired as ``[CLS] query [SEP] title``."""
DEFAULT_MAX_LENGTH = 48


class CrossEncoderRanker:
    name = KIND
    default_candidate_ms = 1.0
    """A first guess (int8 MiniLM-L6, ~30 tokens, one thread); the stage measures the rest."""

    def __init__(self, onnx_path: Path, max_length: int = DEFAULT_MAX_LENGTH,
                 threads: int = 1, model: RerankerModelFile | None = None,
                 tokenizer_path: Path | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model = model
        self.max_length = max_length
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path or VENDORED_TOKENIZER))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)  # longest first
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> CrossEncoderRanker:
        model = load_model_file(path, kind=KIND, feature_set=FEATURE_SET, features=FEATURES)
        onnx_path = Path(path).parent / model.payload
        if not onnx_path.is_file():
            raise FileNotFoundError(f"{path} names {onnx_path}, which is not there")
        return cls(onnx_path, int(model.params.get("max_length", DEFAULT_MAX_LENGTH)), threads,
                   model)

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self.score_pairs([(query.text, c.title) for c in candidates])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([(q or "", t or "") for q, t in pairs])
        width = max(len(e.ids) for e in encodings)
        shape = (len(encodings), width)
        ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, 1, enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (logits,) = self._session.run(None, {k: v for k, v in feeds.items()
                                             if k in self._inputs})[:1]
        return np.asarray(logits, dtype=np.float32).reshape(len(encodings), -1)[:, 0]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **(self.model.summary() if self.model else {})}
