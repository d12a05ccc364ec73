"""A trained SASRec network as an ONNX graph, and answers from it on ONNX Runtime.

The graph takes ``item_ids`` ``(1, max_len)`` int64, left-padded with 0 (the traced
attention reshapes to a fixed length; padding does not change the scores), and returns
``scores`` ``(1, n_items + 1)``; history exclusion and the top-k happen in NumPy, as
``SasrecRecommender`` does them in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.recs.sequential.item_vocabulary import PADDING_ID, ItemVocabulary


def export_sasrec_onnx(network: Any, path: Path, opset: int = 17) -> Path:
    import torch

    network.eval()
    sample = torch.zeros((1, network.config.max_len), dtype=torch.long)
    sample[0, -3:] = torch.tensor([1, 2, 3])
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(network, (sample,), str(path), input_names=["item_ids"],
                          output_names=["scores"], opset_version=opset,
                          do_constant_folding=True, dynamo=False)
    return path


class OnnxSasrecRecommender:
    """``recommend(history, k, exclude_history=)`` on an exported graph, one thread."""

    def __init__(self, path: Path, vocabulary: ItemVocabulary, max_len: int,
                 threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.vocabulary = vocabulary
        self.max_len = max_len

    def recommend(self, history: Sequence[str], k: int, *, exclude_history: bool = True
                  ) -> list[str]:
        ids = self.vocabulary.encode(history)
        if not ids:
            excluded = set(history) if exclude_history else set()
            return [item for item in self.vocabulary.items if item not in excluded][:k]
        recent = ids[-self.max_len:]
        padded = np.zeros((1, self.max_len), dtype=np.int64)
        padded[0, self.max_len - len(recent):] = recent
        (scores,) = self.session.run(None, {"item_ids": padded})
        scores = scores[0]
        scores[PADDING_ID] = -np.inf
        if exclude_history:
            scores[ids] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.vocabulary.item(int(i)) for i in top]
