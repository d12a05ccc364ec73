"""The report of an evaluation run (``report.json`` + ``report.md``) and the side-by-side
comparison of two reports.

``report.json``::

    {"kind": "search" | "recs", "title", "date", "date_end", "code_version",
     "machine": {"cores", "arch", "python", "load_avg_start", "load_avg_end", ...},
     "configuration": {setting: value}   # every setting that differs from its default
     "overrides": {setting: value}       # the --set pairs, as given
     "parameters": {...}                 # the command's own options
     "data": {"dir", "files": [{"path", "bytes", "sha256"}]},
     "metrics": {system: {metric: number}},
     "details": {...}}                   # everything else the run measured

Every number a comparison looks at is under ``metrics``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` (created)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / REPORT_JSON, out_dir / REPORT_MD
    json_path.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    md_path.write_text(render_report(report))
    return json_path, md_path


def load_report(path: Path) -> dict[str, Any]:
    """A ``report.json`` (or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_JSON
    if not path.is_file():
        raise FileNotFoundError(f"no report at {path} (expected a report.json written by "
                                "`streamrec eval search|recs --out DIR`)")
    report = json.loads(path.read_text())
    if not isinstance(report, dict) or "metrics" not in report:
        raise ValueError(f"{path} is not an evaluation report (no 'metrics')")
    return report


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def render_report(report: Mapping[str, Any]) -> str:
    """A readable Markdown page: what was run, then the metrics of every system."""
    metrics: Mapping[str, Mapping[str, Any]] = report.get("metrics", {})
    machine = report.get("machine", {})
    lines = [f"# {report.get('title') or 'Evaluation report'}", ""]
    facts = [
        ("kind", report.get("kind")), ("date", report.get("date")),
        ("code version", report.get("code_version")),
        ("machine", f"{machine.get('cores')} cores, {machine.get('arch')}, "
                    f"Python {machine.get('python')}"),
        ("load average start / end", f"{machine.get('load_avg_start')} / "
                                     f"{machine.get('load_avg_end')}"),
        ("data folder", report.get("data", {}).get("dir")),
    ]
    lines += _table(["", ""], [[k, format_value(v)] for k, v in facts])

    shared = [m for m in _metric_names(metrics)
              if sum(1 for row in metrics.values() if m in row) >= 2 or len(metrics) == 1]
    if metrics:
        lines += ["## Metrics", ""]
        lines += _table(["system", *shared],
                        [[name, *(format_value(row.get(m)) for m in shared)]
                         for name, row in metrics.items()])
    for name, row in metrics.items():
        own = [m for m in row if m not in shared]
        if own:
            lines += [f"### {name}: its own metrics", ""]
            lines += _table(["metric", "value"], [[m, format_value(row[m])] for m in own])

    lines += ["## Configuration (settings that differ from the defaults)", ""]
    config = report.get("configuration") or {}
    lines += (_table(["setting", "value"], [[k, format_value(v)] for k, v in config.items()])
              if config else ["all defaults", ""])
    params = report.get("parameters") or {}
    if params:
        lines += ["## Parameters", ""]
        lines += _table(["option", "value"], [[k, format_value(v)]
                        for k, v in params.items()])
    files = report.get("data", {}).get("files") or []
    if files:
        lines += ["## Data files", ""]
        lines += _table(["file", "bytes", "sha256"],
                        [[f["path"], str(f["bytes"]), f["sha256"][:16]] for f in files])
    return "\n".join(lines)


def _metric_names(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for row in metrics.values():
        names += [m for m in row if m not in names]
    return names


def metric_difference(a: Any, b: Any) -> tuple[str, str]:
    """(B - A, (B - A) / |A| as a percentage); dashes where not both are numbers."""
    numbers = (int, float)
    if not (isinstance(a, numbers) and isinstance(b, numbers)) or isinstance(a, bool) \
            or isinstance(b, bool):
        return "-", "-"
    diff = b - a
    absolute = f"{diff:+.4f}" if isinstance(diff, float) else f"{diff:+d}"
    if a == 0:
        return absolute, "-" if diff else "+0.0%"
    return absolute, f"{100 * diff / abs(a):+.1f}%"


def compare_reports(a: Mapping[str, Any], b: Mapping[str, Any],
                    label_a: str = "A", label_b: str = "B") -> str:
    """Markdown: every metric of either report side by side with B - A and its relative
    change, then the configuration (and run) differences."""
    lines = [f"# {label_a} vs {label_b}", "",
             f"- {label_a}: {a.get('title')} ({a.get('date')}, {a.get('code_version')})",
             f"- {label_b}: {b.get('title')} ({b.get('date')}, {b.get('code_version')})", ""]
    if a.get("kind") != b.get("kind"):
        lines += [f"**Note:** different kinds of evaluation ({a.get('kind')} vs "
                  f"{b.get('kind')}).", ""]
    ma, mb = a.get("metrics", {}), b.get("metrics", {})
    systems = list(ma) + [s for s in mb if s not in ma]
    rows = []
    for system in systems:
        ra, rb = ma.get(system, {}), mb.get(system, {})
        for metric in _metric_names({"a": ra, "b": rb}):
            va, vb = ra.get(metric), rb.get(metric)
            diff, rel = metric_difference(va, vb)
            rows.append([system, metric, format_value(va), format_value(vb), diff, rel])
    lines += ["## Metrics", ""]
    lines += _table(["system", "metric", label_a, label_b, f"{label_b} - {label_a}", "relative"],
                    rows)

    lines += ["## Configuration differences", ""]
    config_rows = _differences(a.get("configuration") or {}, b.get("configuration") or {})
    lines += (_table(["setting", label_a, label_b], config_rows) if config_rows
              else ["none: the same settings", ""])
    run_rows = _differences(a.get("parameters") or {}, b.get("parameters") or {})
    run_rows += _differences({"code_version": a.get("code_version"),
                              "data": _data_digest(a)},
                             {"code_version": b.get("code_version"), "data": _data_digest(b)})
    if run_rows:
        lines += ["## Other differences of the runs", ""]
        lines += _table(["", label_a, label_b], run_rows)
    return "\n".join(lines)


def _differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[list[str]]:
    keys = list(a) + [k for k in b if k not in a]
    return [[k, format_value(a.get(k, "(default)")), format_value(b.get(k, "(default)"))]
            for k in keys if a.get(k, "(default)") != b.get(k, "(default)")]


def _data_digest(report: Mapping[str, Any]) -> str:
    files = report.get("data", {}).get("files") or []
    return ", ".join(f"{Path(f['path']).name}:{f['sha256'][:12]}" for f in files)


def build_report(*, kind: str, title: str, metrics: Mapping[str, Mapping[str, Any]],
                 details: Mapping[str, Any], overrides: Mapping[str, str],
                 configuration: Mapping[str, Any], parameters: Mapping[str, Any],
                 data_dir: Path, data_files: list[dict[str, Any]], date: str,
                 date_end: str, code_version: str, machine: Mapping[str, Any]
                 ) -> dict[str, Any]:
    """The ``report.json`` document (see the module's docstring)."""
    return {
        "kind": kind, "title": title, "date": date, "date_end": date_end,
        "code_version": code_version, "machine": dict(machine),
        "configuration": dict(configuration), "overrides": dict(overrides),
        "parameters": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in parameters.items()},
        "data": {"dir": str(Path(data_dir).resolve()), "files": data_files},
        "metrics": {name: dict(row) for name, row in metrics.items()},
        "details": dict(details),
    }
