"""``streamrec eval``: every quality figure through the live system, as a report.

    streamrec eval search --data-dir ../shared/data --out reports/search-base
    streamrec eval recs --data-dir ../shared/data --dataset amazon_games \
        --set recs_blend=rank --out reports/recs-rank
    streamrec eval compare reports/recs-base/report.json reports/recs-rank/report.json

The machinery lives in ``streamrec.evaluation`` (``search_evaluation``,
``recs_evaluation``, ``evaluation_report``); ``bench/bench_search_quality.py`` and
``bench/bench_recs_quality.py`` are thin wrappers over the same code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from streamrec.evaluation.phase_progress import Advance

eval_app = typer.Typer(help="Measure search and recommendation quality through the live "
                       "system (Kafka, workers, API); write and compare reports.",
                       no_args_is_help=True)
console = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(
    "--data-dir", help="Folder holding the data sets (homedepot/, amazon_games/, "
    "yoochoose_100k/), e.g. ../shared/data")]
Out = Annotated[Path, typer.Option("--out", help="Folder for report.json and report.md")]
Sets = Annotated[list[str] | None, typer.Option(
    "--set", help="KEY=VALUE: a streamrec setting for the worker and API processes "
    "(e.g. rerank_model_path=model.txt, recs_blend=rank); repeatable")]
Bootstrap = Annotated[str | None, typer.Option(help="Use this Kafka instead of starting one")]
RedisUrl = Annotated[str | None, typer.Option(help="Use this Redis instead of starting one")]


class RichPhaseProgress:
    """A progress bar per long phase, log lines above the bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def log(self, message: str) -> None:
        self.progress.console.log(message)

    @contextlib.contextmanager
    def phase(self, label: str, total: int | None = None) -> Iterator[Advance]:
        task = self.progress.add_task(label, total=total)
        try:
            yield lambda n: self.progress.advance(task, n)
        finally:
            self.progress.update(task, completed=total if total else 1, total=total or 1)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=1)


def _check_data(files: list[Path], data_dir: Path, what: str) -> None:
    missing = [path for path in files if not path.is_file()]
    if missing:
        raise _fail(f"{what}: missing {', '.join(str(p) for p in missing)}; pass --data-dir "
                    f"with the folder that holds the data sets (now {data_dir})")


def _overrides(pairs: list[str] | None) -> dict[str, str]:
    from streamrec.evaluation.setting_overrides import (
        SettingOverrideError,
        parse_setting_overrides,
    )

    try:
        return parse_setting_overrides(pairs or [])
    except SettingOverrideError as exc:
        raise _fail(str(exc)) from exc


def _run_and_report(kind: str, title: str, run: Any, config: Any, overrides: dict[str, str],
                    env: dict[str, str], parameters: dict[str, Any], out: Path) -> None:
    from streamrec.datasets.errors import DatasetFormatError, DatasetMissingError
    from streamrec.evaluation.evaluation_report import build_report, write_report
    from streamrec.evaluation.run_context import (
        code_version,
        file_facts,
        load_avg,
        machine_facts,
        utc_now,
    )
    from streamrec.evaluation.setting_overrides import effective_configuration

    # the code that runs is the code at the start (a commit during a long run must not
    # relabel it)
    date, load_start, version = utc_now(), load_avg(), code_version()
    data_files = file_facts(config.data_files())
    try:
        with _progress() as progress:
            result = run(config, RichPhaseProgress(progress))
    except (DatasetMissingError, DatasetFormatError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    except (RuntimeError, TimeoutError) as exc:
        raise _fail(f"the live run failed: {exc}") from exc
    metrics = result.pop("report_metrics", None) or result.pop("metrics")
    report = build_report(
        kind=kind, title=title, metrics=metrics, details=result, overrides=overrides,
        configuration=effective_configuration(env), parameters=parameters,
        data_dir=config.data_dir, data_files=data_files, date=date, date_end=utc_now(),
        code_version=version,
        machine={**machine_facts(), "load_avg_start": load_start, "load_avg_end": load_avg()})
    json_path, md_path = write_report(report, out)
    from streamrec.evaluation.evaluation_report import render_report

    typer.echo(render_report(report))
    console.print(f"wrote {json_path} and {md_path}")


@eval_app.command("search")
def eval_search(
    data_dir: DataDir,
    out: Out,
    limit_products: Annotated[int | None, typer.Option(help="Publish only the first N "
                                                       "products (judgments of others dropped)")]
    = None,
    limit_queries: Annotated[int | None, typer.Option(help="A seeded sample of N queries")]
    = None,
    split: Annotated[str, typer.Option(help="test: only the held-out test queries of "
                                       "streamrec.rerank.query_split; all: every query")]
    = "test",
    set_: Sets = None,
    latency_sample: Annotated[int, typer.Option(help="Queries of the 1-client k=10 pass")]
    = 200,
    clients: Annotated[int, typer.Option(help="Clients of the concurrent k=10 pass (0: skip)")]
    = 8,
    load_seconds: Annotated[float, typer.Option(help="Length of the concurrent pass")] = 30.0,
    load_mix: Annotated[str, typer.Option(
        help="Queries of the concurrent pass: repeat (the split's, cycled) or distinct "
             "(never asked before in the run: every query embedding a miss)")] = "repeat",
    api_workers: Annotated[int, typer.Option(help="API processes, each with its own index "
                                             "replica")] = 2,
    partitions: Annotated[int, typer.Option()] = 4,
    bootstrap: Bootstrap = None,
    redis_url: RedisUrl = None,
) -> None:
    """Search on Home Depot-format judgments: NDCG@10, P@10, recall@100, zero-result rate,
    rungs, reranked share, latency, rerank-only quality of the judged products, and BM25
    alone (plus vectors alone and an offline hybrid) measured in the same run."""
    from streamrec.evaluation.search_evaluation import (
        INGEST_ENV,
        SearchEvaluationConfig,
        run_search_evaluation,
    )
    from streamrec.evaluation.setting_overrides import overrides_env

    if split not in ("test", "all"):
        raise _fail(f"--split must be test or all, not {split!r}")
    if load_mix not in ("repeat", "distinct"):
        raise _fail(f"--load-mix must be repeat or distinct, not {load_mix!r}")
    overrides = _overrides(set_)
    env = overrides_env(overrides)
    config = SearchEvaluationConfig(
        data_dir=data_dir, limit_products=limit_products, limit_queries=limit_queries,
        split=split, env=env, partitions=partitions, bootstrap=bootstrap, redis_url=redis_url,
        latency_sample=latency_sample, clients=clients, load_seconds=load_seconds,
        load_requests=max(1, int(clients * load_seconds * 20)), load_mix=load_mix,
        api_workers=api_workers)
    _check_data(config.data_files(), data_dir, "Home Depot search judgments")
    parameters = {"limit_products": limit_products, "limit_queries": limit_queries,
                  "split": split, "latency_sample": latency_sample, "clients": clients,
                  "load_seconds": load_seconds, "load_mix": load_mix,
                  "api_workers": api_workers,
                  "partitions": partitions}
    _run_and_report("search", "Search quality (Home Depot) through the live system",
                    run_search_evaluation, config, overrides, {**INGEST_ENV, **env},
                    parameters, out)


@eval_app.command("recs")
def eval_recs(
    data_dir: DataDir,
    out: Out,
    dataset: Annotated[str, typer.Option(help="amazon_games or yoochoose")] = "amazon_games",
    eval_users: Annotated[int, typer.Option(help="Held-out users (amazon_games) or test "
                                            "sessions (yoochoose)")] = 2000,
    limit_background: Annotated[int | None, typer.Option(
        help="Stream only the first N background users / training sessions")] = None,
    limit_items: Annotated[int | None, typer.Option(
        help="Publish only the first N catalog items (quick checks only)")] = None,
    seed: Annotated[int, typer.Option()] = 7,
    set_: Sets = None,
    bootstrap: Bootstrap = None,
    redis_url: RedisUrl = None,
    loop_users: Annotated[int, typer.Option(
        help="Close the feedback loop first (amazon_games): serve this many other held-out "
             "users, click their target when shown, train the rerank model from the "
             "impressions and clicks, then score the evaluation users with the default "
             "and with the learned scorer (0: off)")] = 0,
    loop_k: Annotated[int, typer.Option(help="Items shown to each logging user")] = 50,
) -> None:
    """Next-item recommendations: HR@k, NDCG@k, MRR@k, coverage and the share of fallback
    answers of /v1/recommendations, with the transition and popularity baselines
    measured in the same run (k=10 on Amazon Games, 20 on YOOCHOOSE); with --loop-users,
    also the rerank model learned from logged impressions (row live_learned)."""
    from streamrec.evaluation.recs_evaluation import (
        RecsEvaluationConfig,
        dataset_name,
        run_recs_evaluation,
    )
    from streamrec.evaluation.setting_overrides import overrides_env

    try:
        name = dataset_name(dataset)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    overrides = _overrides(set_)
    env = overrides_env(overrides)
    config = RecsEvaluationConfig(
        data_dir=data_dir, dataset=name, eval_users=eval_users,
        limit_background=limit_background, limit_items=limit_items, seed=seed, env=env,
        bootstrap=bootstrap, redis_url=redis_url, loop_users=loop_users, loop_k=loop_k,
        loop_model_path=out / "recs-reranker.json" if loop_users else None)
    if loop_users and name != "amazon-games":
        raise _fail("--loop-users runs on amazon_games only")
    _check_data(config.data_files(), data_dir, f"{name} sequences")
    parameters = {"dataset": name, "eval_users": eval_users,
                  "limit_background": limit_background, "limit_items": limit_items,
                  "seed": seed, "loop_users": loop_users, "loop_k": loop_k}
    _run_and_report("recs", f"Recommendation quality ({name}) through the live system",
                    run_recs_evaluation, config, overrides,
                    {"STREAMREC_INDEX_SNAPSHOT_INTERVAL_S": "0", **env}, parameters, out)


@eval_app.command("compare")
def eval_compare(
    a: Annotated[Path, typer.Argument(help="The first report.json (or its folder)")],
    b: Annotated[Path, typer.Argument(help="The second report.json (or its folder)")],
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown here")] = None,
) -> None:
    """Every metric of two reports side by side (B - A, relative), and what differed in
    their configuration."""
    from streamrec.evaluation.evaluation_report import compare_reports, load_report

    try:
        ra, rb = load_report(a), load_report(b)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    text = compare_reports(ra, rb, label_a=_label(a), label_b=_label(b))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    typer.echo(text)


def _label(path: Path) -> str:
    path = Path(path)
    return (path.parent.name if path.name == "report.json" else path.name) or str(path)


@eval_app.command("settings")
def eval_settings() -> None:
    """The settings --set accepts, with their defaults."""
    from streamrec.evaluation.setting_overrides import DEPLOYMENT_FIELDS
    from streamrec.settings import Settings

    for name, info in Settings.model_fields.items():
        if name not in DEPLOYMENT_FIELDS:
            typer.echo(f"{name} = {info.get_default(call_default_factory=True)!r}")
