"""``streamrec``: the one command a person uses to run and feed the platform."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streamrec.settings import Settings, load_settings
from streamrec.streams.errors import KafkaUnavailableError

if TYPE_CHECKING:
    from streamrec.streams.jsonl_publisher import PublishSummary

app = typer.Typer(help="Real-time recommendations and search on Kafka, Faust and Redis.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False)
publish_app = typer.Typer(help="Publish JSON Lines to the platform's input topics.",
                          no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics of the contract.", no_args_is_help=True)
app.add_typer(publish_app, name="publish")
app.add_typer(topics_app, name="topics")

console = Console()


def _data_app() -> typer.Typer | None:
    try:
        from streamrec.cli.data_commands import data_app
    except ImportError:  # the adapters are optional to the core commands
        return None
    return data_app


from streamrec.cli.eval_commands import eval_app  # noqa: E402
from streamrec.cli.index_commands import index_app  # noqa: E402
from streamrec.cli.rewrite_command import rewrite  # noqa: E402
from streamrec.cli.train_commands import train_app  # noqa: E402
from streamrec.cli.warm_command import warm  # noqa: E402

app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.command()(warm)
app.command()(rewrite)

_data = _data_app()
if _data is not None:
    app.add_typer(_data, name="data", help="Turn the data sets into JSON Lines.")


def _settings(bootstrap: str | None = None) -> Settings:
    return load_settings(kafka_bootstrap=bootstrap)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


# ----------------------------------------------------------------------------- platform
@app.command()
def up(
    detach: Annotated[bool, typer.Option(help="Leave the platform running and return.")] = False,
    sample: Annotated[bool, typer.Option(help="Load the demo catalog once everything is up.")]
    = True,
) -> None:
    """Bring the local platform up: Kafka, Redis, topics, worker, API (and a demo catalog)."""
    from streamrec.platform.local_platform import LocalPlatform

    settings = _settings()
    platform = LocalPlatform(settings)
    try:
        with console.status("starting") as status:
            platform.up(on_step=lambda label: status.update(f"starting {label}"))
    except (RuntimeError, TimeoutError) as exc:
        platform.down()
        raise _fail(str(exc)) from exc
    console.print(f"[green]up[/green]  API {platform.api_url}   Kafka {platform.kafka_bootstrap}"
                  f"   Redis {platform.redis_url}   logs {platform.logs}")
    if sample:
        _load_demo_catalog(settings.model_copy(update={"kafka_bootstrap":
                                                       platform.kafka_bootstrap}))
    if detach:
        console.print("running in the background; stop it with `streamrec down`")
        return
    console.print("press Ctrl-C to stop")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    console.print(f"stopped: {', '.join(platform.down()) or 'nothing'}")


def _load_demo_catalog(settings: Settings) -> None:
    from streamrec.datasets.sample_data import demo_catalog_changes, demo_catalog_source

    source = demo_catalog_source(settings.data_dir)
    records = enumerate(demo_catalog_changes(settings.data_dir), 1)
    summary = _publish_with_progress(settings, "catalog", records, None, None,
                                     f"demo catalog ({source})")
    _print_summary(summary)


@app.command()
def down() -> None:
    """Stop the local platform started by `streamrec up`."""
    from streamrec.platform.local_platform import LocalPlatform

    stopped = LocalPlatform(_settings()).down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """What of the local platform is running, where, and where its logs are."""
    from streamrec.platform.local_platform import LocalPlatform

    table = Table("service", "state", "pid", "address", "log")
    for service in LocalPlatform(_settings()).status():
        state = "[green]running[/green]" if service.pid else "[red]stopped[/red]"
        table.add_row(service.name, state, str(service.pid or "-"), service.address,
                      str(service.log))
    console.print(table)


# ----------------------------------------------------------------------------- processes
@app.command()
def worker(
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug")] = "warn",
    metrics_port: Annotated[int, typer.Option(help="Serve Prometheus metrics (0: off)")] = 0,
    role: Annotated[str, typer.Option(
        help="all, catalog (embedding) or users (profiles, candidates): run the roles as "
             "separate processes so a catalog backlog never delays user events")] = "all",
) -> None:
    """Run a Faust worker (as many processes per role as you like share the partitions)."""
    from streamrec.agents.worker import run_worker

    try:
        run_worker(_settings(), role=role, loglevel=loglevel, metrics_port=metrics_port)
    except KafkaUnavailableError as exc:
        raise _fail(str(exc)) from exc


APP = "streamrec.serving.main:app"


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(
        help="API processes (about one per core), each with its own index replica "
             "(default: STREAMREC_API_WORKERS, 1)", min=1)] = None,
) -> None:
    """Run the HTTP API (uvicorn); with --workers N > 1, N processes behind one socket
    that deals each new connection to the process with the fewest open ones."""
    import uvicorn

    from streamrec.serving.api_processes import serve_processes, several_processes_supported

    settings = _settings()
    host, port = host or settings.api_host, port or settings.api_port
    workers = workers or settings.api_workers
    if workers > 1 and several_processes_supported():
        raise typer.Exit(code=serve_processes(APP, host, port, workers))
    uvicorn.run(APP, host=host, port=port, workers=workers, log_level="warning",
                access_log=False)


@topics_app.command("create")
def topics_create(bootstrap: Annotated[str | None, typer.Option()] = None) -> None:
    """Create every contract topic and DLQ that is missing (idempotent)."""
    from streamrec.streams.admin import ensure_topics

    try:
        result = ensure_topics(_settings(bootstrap))
    except KafkaUnavailableError as exc:
        raise _fail(str(exc)) from exc
    for name, state in sorted(result.items()):
        console.print(f"{state:8} {name}")


# ----------------------------------------------------------------------------- publishing
def _publish_with_progress(settings: Settings, kind: str,
                           lines: Iterable[tuple[int, bytes | dict[str, Any]]],
                           rate: float | None, speedup: float | None, label: str
                           ) -> PublishSummary:
    from streamrec.streams.jsonl_publisher import publish_records

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=None)
        try:
            return publish_records(settings, kind, lines, rate=rate, speedup=speedup,
                                   on_progress=lambda n: progress.advance(task, n))
        except KafkaUnavailableError as exc:
            raise _fail(str(exc)) from exc


def _print_summary(summary: PublishSummary) -> None:
    rate = summary.sent / summary.seconds if summary.seconds else 0.0
    console.print(f"read {summary.read}, sent {summary.sent}, delivered {summary.delivered}, "
                  f"failed {summary.failed}, rejected {summary.rejected_total} "
                  f"in {summary.seconds:.1f}s ({rate:,.0f}/s)")
    for reason, count in summary.rejected.most_common():
        console.print(f"  rejected {count} x {reason}")
    for example in summary.examples:
        console.print(f"    {example}")


def _publish_file(kind: str, file: Path, rate: float | None, speedup: float | None,
                  bootstrap: str | None) -> None:
    from streamrec.streams.jsonl_publisher import read_lines

    if not file.is_file():
        raise _fail(f"no such file: {file}")
    summary = _publish_with_progress(_settings(bootstrap), kind, read_lines(file), rate, speedup,
                                     file.name)
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(code=2)


@publish_app.command("catalog")
def publish_catalog(
    file: Annotated[Path, typer.Argument(help="JSON Lines, one CatalogChange per line")],
    rate: Annotated[float | None, typer.Option(help="records per second")] = None,
    bootstrap: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Publish catalog changes (keyed by sku) to catalog.changes."""
    _publish_file("catalog", file, rate, None, bootstrap)


@publish_app.command("events")
def publish_events(
    file: Annotated[Path, typer.Argument(help="JSON Lines, one UserEvent per line")],
    rate: Annotated[float | None, typer.Option(help="events per second")] = None,
    speedup: Annotated[float | None, typer.Option(
        help="replay at the recorded timestamps (ts), this many times faster")] = None,
    bootstrap: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Publish user events (keyed by user_id) to user.events."""
    if rate and speedup:
        raise _fail("--rate and --speedup exclude each other")
    _publish_file("events", file, rate, speedup, bootstrap)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app()
