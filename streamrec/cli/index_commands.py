"""``streamrec index snapshot|restore``: the index replica's snapshots, by hand."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from streamrec.settings import load_settings

if TYPE_CHECKING:
    from streamrec.indexer.catalog_index_replica import CatalogIndexReplica

index_app = typer.Typer(help="Vector index snapshots (fed by catalog.vectors).",
                        no_args_is_help=True)
console = Console()


def _replica() -> CatalogIndexReplica:
    # heavy imports (FAISS, ONNX Runtime) stay inside the command
    from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
    from streamrec.indexer.index_settings import encoder_config, index_config, shard_router
    from streamrec.indexer.text_encoder import create_text_encoder
    from streamrec.streams.admin import check_kafka
    from streamrec.streams.topics import Topics

    settings = load_settings()
    check_kafka(settings)
    encoder = create_text_encoder(encoder_config(settings))
    return CatalogIndexReplica(
        bootstrap=settings.kafka_bootstrap, topic=Topics(settings).catalog_vectors,
        snapshot_dir=settings.index_snapshot_dir, dim=encoder.dim, model_id=encoder.model_id,
        router=shard_router(settings), config=index_config(settings),
        connect_timeout_s=settings.kafka_connect_timeout_s)


def _catch_up(replica: CatalogIndexReplica, timeout_s: float) -> None:
    with console.status("replaying catalog.vectors"):
        replica.start()
        if not replica.wait_caught_up(timeout_s):
            replica.stop()
            raise typer.Exit(code=1)
        replica.stop()


@index_app.command("snapshot")
def snapshot(timeout: Annotated[float, typer.Option(help="seconds to catch up")] = 600) -> None:
    """Restore the newest snapshot, replay catalog.vectors to its end, write a new snapshot."""
    replica = _replica()
    restored = replica.restore()
    _catch_up(replica, timeout)
    path = replica.snapshot()
    stats = replica.stats()
    console.print(f"snapshot {path}: {stats['products']} products, offsets {stats['offsets']}"
                  f" ({'from the previous snapshot' if restored else 'from the topic'})")


@index_app.command("restore")
def restore(timeout: Annotated[float, typer.Option(help="seconds to catch up")] = 600) -> None:
    """Load the newest snapshot and replay from its offsets, as a restarted replica does."""
    replica = _replica()
    started = time.perf_counter()
    if not replica.restore():
        console.print(f"no snapshot in {replica.snapshot_dir}; a replica would replay the topic")
        raise typer.Exit(code=1)
    restored_s = time.perf_counter() - started
    before = dict(replica.offsets)
    _catch_up(replica, timeout)
    stats = replica.stats()
    console.print(f"restored {stats['products']} products in {restored_s:.2f}s from offsets "
                  f"{before}; replayed {stats['applied']} newer records in "
                  f"{time.perf_counter() - started - restored_s:.2f}s")
