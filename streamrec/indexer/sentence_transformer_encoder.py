"""Optional PyTorch backend: any sentence-transformers model (not installed by default).

Use it to compare with the ONNX default or to run a model that has no ONNX export.
``EncoderConfig.model_name`` must be a local directory where no download is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.indexer.text_encoder import EncoderConfig, TextEncoder, l2_normalize_rows


class SentenceTransformerEncoder(TextEncoder):
    """sentence-transformers ``encode`` with normalised float32 output."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config = config or EncoderConfig(backend="sentence-transformers")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise RuntimeError(
                "the 'sentence-transformers' backend needs `pip install sentence-transformers`; "
                "the default 'onnx-minilm' backend needs no PyTorch"
            ) from exc
        self._model = SentenceTransformer(config.model_name, device="cpu")
        self._model.max_seq_length = config.max_length
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.model_id = f"st:{config.model_name}"

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.config.batch_size, convert_to_numpy=True
        )
        return l2_normalize_rows(vectors)
