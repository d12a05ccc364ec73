"""Product and query vectors for offline training and benches, encoded once, kept on disk.

Why: embedding the 54,667 Home Depot titles costs ~8 ms of CPU each (minutes on this
machine); training and the bench need the same vectors the API's replica holds, many
times over. The cache file is named by a hash of the model id and every text, so a
new model or a changed catalog never reads stale vectors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from streamrec.indexer.text_encoder import TextEncoder

ProgressFn = Callable[[int], None]
"""Called with the number of texts just encoded."""

_CHUNK = 1024


def texts_digest(model_id: str, texts: Sequence[str]) -> str:
    """A short hex digest naming exactly these texts under this model."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(model_id.encode())
    for text in texts:
        digest.update(b"\x00")
        digest.update(text.encode())
    return digest.hexdigest()


class CatalogVectorCache:
    """Encodes texts with one encoder, caching each distinct text list under ``directory``."""

    def __init__(self, directory: Path, encoder_factory: Callable[[], TextEncoder]) -> None:
        self.directory = Path(directory)
        self._encoder_factory = encoder_factory
        self._encoder: TextEncoder | None = None

    @property
    def encoder(self) -> TextEncoder:
        # loaded even on a cache hit: the encoder, not its config, knows its model id
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def vectors(self, texts: Sequence[str], label: str,
                progress: ProgressFn | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32 unit vectors, from disk when already encoded."""
        path = self.directory / f"{label}-{texts_digest(self.model_id, texts)}.npy"
        if path.is_file():
            if progress is not None:
                progress(len(texts))
            return np.load(path)
        parts = []
        for start in range(0, len(texts), _CHUNK):
            chunk = list(texts[start:start + _CHUNK])
            parts.append(self.encoder.encode_texts(chunk))
            if progress is not None:
                progress(len(chunk))
        matrix = (np.concatenate(parts) if parts else np.zeros((0, 0))).astype(np.float32)
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, matrix)
        os.replace(tmp, path)  # atomic: a killed run leaves no half-written cache
        return matrix
