"""A MiniLM cross-encoder on ONNX Runtime: reads query and title together, one logit each.

A model file of kind ``cross-encoder`` names an ONNX graph (inputs ``input_ids``,
``attention_mask``, ``token_type_ids``; output one logit per pair) next to it, and
optionally a tokenizer file (``params.tokenizer_file``; default the vendored MiniLM
WordPiece). ``streamrec train cross-encoder`` (``cross_encoder_training``, PyTorch as the
optional ``train`` extra) fine-tunes MiniLM-L6 and writes such a file with an int8 graph;
serving needs only ONNX Runtime and ``tokenizers``, like the bi-encoder. Far more
expensive per candidate than LightGBM (a transformer pass per pair), so the budget gives
it a shallower depth.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.indexer.onnx_minilm_encoder import VENDORED_TOKENIZER
from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankerModelFile, load_model_file
from streamrec.rerank.search_log import SearchLog

KIND = "cross-encoder"
FEATURE_SET = "streamrec.rerank.cross-encoder/1"
FEATURES = ("query_text", "title_text")
"""A cross-encoder's "features" are its two texts, paired as ``[CLS] query [SEP] title``."""
DEFAULT_MAX_LENGTH = 48


def pair_tokenizer(path: Path | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> Any:
    """The WordPiece tokenizer as serving uses it: no padding, pairs cut longest first.
    Training (``cross_encoder_training``) tokenizes through this too, so the model learns
    on exactly the ids it is served."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path or VENDORED_TOKENIZER))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)  # longest first
    return tokenizer


def encode_pairs(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """``input_ids`` / ``attention_mask`` / ``token_type_ids`` (int64, padded to the
    longest pair of the batch) of ``[CLS] query [SEP] title [SEP]``."""
    encodings = tokenizer.encode_batch([(q or "", t or "") for q, t in pairs])
    width = max((len(e.ids) for e in encodings), default=0)
    shape = (len(encodings), width)
    ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, 1, enc.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


class CrossEncoderRanker:
    name = KIND
    default_candidate_ms = 1.0
    """A first guess (int8 MiniLM-L6, ~30 tokens, one thread); the stage measures the rest."""

    def __init__(self, onnx_path: Path, max_length: int = DEFAULT_MAX_LENGTH,
                 threads: int = 1, model: RerankerModelFile | None = None,
                 tokenizer_path: Path | None = None) -> None:
        import onnxruntime as ort

        self.model = model
        self.max_length = max_length
        self._tokenizer = pair_tokenizer(tokenizer_path, max_length)
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
        tokenizer = model.params.get("tokenizer_file")  # next to the model file; None: vendored
        return cls(onnx_path, int(model.params.get("max_length", DEFAULT_MAX_LENGTH)), threads,
                   model, Path(path).parent / tokenizer if tokenizer else None)

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self.score_pairs([(query.text, c.title) for c in candidates])

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        feeds = encode_pairs(self._tokenizer, pairs)
        (logits,) = self._session.run(None, {k: v for k, v in feeds.items()
                                             if k in self._inputs})[:1]
        return np.asarray(logits, dtype=np.float32).reshape(len(pairs), -1)[:, 0]

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        return 0  # a title is tokenised together with its query: nothing to do ahead

    def search_logs(self) -> list[SearchLog]:
        return []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **(self.model.summary() if self.model else {})}
