"""Offline search baselines over the very data the live replica indexed.

The ``ItemVector`` records are read back from ``catalog.vectors`` (no second embedding
of the catalog); BM25 alone is a ``LexicalIndex`` (mode ``tiered``) over the same fields
the replica indexes; vectors alone is an exact ``faiss.IndexFlatIP`` over those vectors,
queries embedded with the same encoder; ``hybrid_offline`` fuses the two as the API's
hybrid stage does (convex fusion over 300 candidates each), without HNSW and without
the no-empty-page ladder.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from streamrec.settings import Settings
from streamrec.streams.topics import Topics

HYBRID_DEPTH = 300  # CatalogSearch.hybrid: max(candidates=100, 3 * k) at k=100
MIN_VECTOR_ONLY_SCORE = 0.45  # CatalogSearch.min_vector_only_score


def read_item_vectors(settings: Settings, timeout_s: float = 120.0) -> dict[str, dict[str, Any]]:
    """Every live ``ItemVector`` of ``catalog.vectors`` (last record per sku wins)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from streamrec.schemas.codec import codec_for

    codec = codec_for("ItemVector")
    topic = Topics(settings).catalog_vectors
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap,
                         "group.id": f"{settings.topic_prefix}eval-readback",
                         "enable.auto.commit": False, "enable.partition.eof": False,
                         "log_level": 3})
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        high = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        position = {p: 0 for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while any(position[p] < high[p] for p in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic}: at {position}, end {high}")
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                if message.error() is not None:
                    continue
                position[message.partition()] = message.offset() + 1
                sku = (message.key() or b"").decode()
                if message.value() is None:
                    records.pop(sku, None)
                else:
                    records[sku] = codec.decode(message.value())
        return records
    finally:
        consumer.close()


def offline_rankings(items: dict[str, dict[str, Any]], queries: Sequence[str],
                     settings: Settings, threads: int) -> tuple[dict[str, dict], dict]:
    """BM25 alone, vectors alone and an offline hybrid: ``{variant: {query: skus}}``."""
    import faiss
    import numpy as np

    from streamrec.indexer.lexical_index import LexicalIndex, LexicalIndexConfig
    from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder
    from streamrec.serving.rank_fusion import RankFusion

    info: dict[str, Any] = {}
    skus = sorted(items)
    started = time.perf_counter()
    lexical = LexicalIndex(config=LexicalIndexConfig(commit_every_docs=1 << 40,
                                                     commit_interval_ms=1 << 40))
    for sku in skus:  # the fields CatalogIndexReplica._index_text indexes
        r = items[sku]
        lexical.upsert(sku, r.get("title"), r.get("category_path") or [], r.get("brand"))
    lexical.refresh()
    info["lexical_build_s"] = round(time.perf_counter() - started, 2)

    model_ids = Counter(items[s]["model_id"] for s in skus)
    model_id = model_ids.most_common(1)[0][0]
    encoder = create_text_encoder(EncoderConfig(backend=settings.encoder_backend,
                                                parallel_batches=threads, batch_size=8))
    if encoder.model_id != model_id:
        info["warning"] = (f"catalog vectors are {model_id}, the query encoder is "
                           f"{encoder.model_id}")
    info["model_id"] = model_id
    matrix = np.stack([np.frombuffer(items[s]["vector"], dtype="<f4") for s in skus])
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(np.ascontiguousarray(matrix, dtype=np.float32))
    started = time.perf_counter()
    normalised = [" ".join(q.lower().split()) for q in queries]  # as QueryEmbedder does
    query_vectors = encoder.encode_texts(normalised)
    info["query_embedding_s"] = round(time.perf_counter() - started, 2)
    depth = min(HYBRID_DEPTH, len(skus))
    scores, ids = flat.search(np.ascontiguousarray(query_vectors, dtype=np.float32), depth)

    fusion = RankFusion()
    out: dict[str, dict[str, list[str]]] = {"bm25_tiered": {}, "vectors_exact": {},
                                            "hybrid_offline": {}}
    started = time.perf_counter()
    for query, row_ids, row_scores in zip(queries, ids, scores, strict=True):
        ann = [(skus[i], float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        lex = lexical.search(query.strip(), HYBRID_DEPTH, mode="tiered")
        out["bm25_tiered"][query] = [s for s, _ in lex[:100]]
        out["vectors_exact"][query] = [s for s, _ in ann[:100]]
        if lex:
            fused = fusion.fuse([lex, ann])
        else:  # as CatalogSearch.hybrid: vectors alone only when close
            fused = [(s, v) for s, v in ann if v >= MIN_VECTOR_ONLY_SCORE]
        out["hybrid_offline"][query] = [s for s, _ in fused[:100]]
    info["search_s"] = round(time.perf_counter() - started, 2)
    lexical.close()
    return out, info
