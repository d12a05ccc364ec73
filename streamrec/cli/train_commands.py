"""``streamrec train reranker``: learn the search reranker from relevance judgments."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from streamrec.settings import load_settings

train_app = typer.Typer(help="Train the learned parts of the platform.", no_args_is_help=True)
console = Console()

DEFAULT_MODEL_NAME = "lightgbm-reranker.json"


def default_model_path(cache_dir: Path) -> Path:
    return cache_dir / "rerank" / DEFAULT_MODEL_NAME


@train_app.command("reranker")
def reranker(
    judgments: Annotated[Path | None, typer.Option(
        help="judgments CSV (query, product_uid, relevance); default "
             "<data-dir>/homedepot/judgments_dev.csv")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="folder holding homedepot/products.csv (default: STREAMREC_DATA_DIR)")] = None,
    output: Annotated[Path | None, typer.Option(
        help=f"model file (default: <cache_dir>/rerank/{DEFAULT_MODEL_NAME})")] = None,
    depth: Annotated[int, typer.Option(help="candidates per query (the serving max depth)")]
    = 100,
    max_rounds: Annotated[int, typer.Option(help="boosting rounds at most")] = 600,
    limit_products: Annotated[int | None, typer.Option(help="first N products (smoke test)")]
    = None,
) -> None:
    """Train the LightGBM lambdarank reranker on the API's own hybrid candidates.

    Queries are split by a hash of their text into train / validation / test; every
    figure printed is on the test queries only.
    """
    # heavy imports (LightGBM, FAISS, ONNX Runtime) stay inside the command
    from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
    from streamrec.indexer.index_settings import encoder_config
    from streamrec.rerank.reranker_training_run import train_reranker
    from streamrec.serving.rank_fusion import RankFusion

    settings = load_settings()
    data = data_dir or settings.data_dir
    target = output or default_model_path(settings.cache_dir)
    encoder = dataclasses.replace(encoder_config(settings), intra_op_threads=2, batch_size=64)
    columns = (TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        def phase(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        try:
            result = train_reranker(data, settings.cache_dir / "rerank", target,
                                    RankFusion().fuse, judgments_path=judgments,
                                    encoder=encoder, depth=depth, max_rounds=max_rounds,
                                    limit_products=limit_products, on_phase=phase)
        except (DatasetMissingError, DatasetFormatError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
    table = Table(title=f"test queries only ({result.split_sizes['test']} of "
                        f"{sum(result.split_sizes.values())}; best round {result.best_round})")
    table.add_column("ranking")
    table.add_column("NDCG@10", justify="right")
    table.add_column("P@10", justify="right")
    for name in ("bm25", "hybrid", "hybrid_lightgbm"):
        row = result.metrics[name]
        table.add_row(name, f"{row['ndcg_at_10']:.4f}", f"{row['p_at_10']:.4f}")
    console.print(table)
    console.print(f"model written to {result.model_path}; serve it with "
                  f"STREAMREC_RERANK_MODEL_PATH={result.model_path}")
