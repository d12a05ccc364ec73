"""Map the process Settings onto the indexer's own config objects (one place)."""

from __future__ import annotations

from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.shard_router import ShardRouter, router_from_spec
from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder
from streamrec.settings import Settings


def encoder_config(settings: Settings) -> EncoderConfig:
    return EncoderConfig(
        backend=settings.encoder_backend,
        parallel_batches=settings.encoder_threads,
        batch_size=settings.encoder_batch_size,
        quantization=settings.encoder_quantization,
        cache_dir=settings.cache_dir,
    )


def index_config(settings: Settings) -> IndexConfig:
    return IndexConfig(
        hnsw_m=settings.index_hnsw_m,
        ef_construction=settings.index_ef_construction,
        small_shard_ef_construction=settings.index_small_shard_ef_construction,
        ef_search=settings.index_ef_search,
        storage=settings.index_storage,
        compaction_ratio=settings.index_compaction_ratio,
        router=settings.index_router,
        hash_shards=settings.index_hash_shards,
    )


def shard_router(settings: Settings) -> ShardRouter:
    spec: dict[str, object] = {"kind": settings.index_router}
    if settings.index_router == "hash":
        spec["shards"] = settings.index_hash_shards
    return router_from_spec(spec)


def vector_space(settings: Settings) -> tuple[str, int]:
    """(model id, dimension) of the configured encoder, without loading the model."""
    config = encoder_config(settings)
    if config.backend == "onnx-minilm":
        from streamrec.indexer.onnx_minilm_encoder import OnnxMiniLmEncoder

        return config.resolved_model_id, OnnxMiniLmEncoder.dim
    encoder = create_text_encoder(config)  # other backends: ask the model
    return encoder.model_id, encoder.dim
