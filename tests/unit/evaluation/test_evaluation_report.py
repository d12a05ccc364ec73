import json
from pathlib import Path

from typer.testing import CliRunner

from streamrec.cli.main import app
from streamrec.evaluation.evaluation_report import (
    build_report,
    compare_reports,
    load_report,
    metric_difference,
    write_report,
)


def _report(ndcg: float, zero: float, config: dict, *, hr: float | None = None) -> dict:
    metrics = {"live_api": {"ndcg_at_10": ndcg, "zero_result_rate": zero,
                            "reranked_share": 1.0},
               "bm25_tiered": {"ndcg_at_10": 0.40, "zero_result_rate": 0.05}}
    if hr is not None:
        metrics["live_api"]["hr@10"] = hr
    return build_report(
        kind="search", title="Search quality", metrics=metrics, details={"queries": 3},
        overrides={}, configuration=config, parameters={"split": "test"},
        data_dir=Path("/data"), data_files=[{"path": "/data/homedepot/products.csv",
                                             "bytes": 10, "sha256": "ab" * 32}],
        date="2026-11-27T00:00:00+00:00", date_end="2026-11-27T00:10:00+00:00",
        code_version="abc123", machine={"cores": 2, "arch": "x86_64", "python": "3.11",
                                        "load_avg_start": [1.0], "load_avg_end": [2.0]})


def test_write_report_writes_json_and_a_markdown_table(tmp_path: Path):
    report = _report(0.5, 0.0, {"rerank_model_path": "/m/lgbm.txt"})
    json_path, md_path = write_report(report, tmp_path / "run")
    assert load_report(json_path) == json.loads(json_path.read_text())
    assert load_report(tmp_path / "run")["metrics"]["live_api"]["ndcg_at_10"] == 0.5
    md = md_path.read_text()
    assert "| system | ndcg_at_10 | zero_result_rate |" in md
    assert "| live_api | 0.5000 | 0.0000 |" in md
    assert "| bm25_tiered | 0.4000 | 0.0500 |" in md
    assert "### live_api: its own metrics" in md
    assert "| reranked_share | 1.0000 |" in md
    assert "| rerank_model_path | /m/lgbm.txt |" in md
    assert "| code version | abc123 |" in md


def test_compare_shows_every_metric_with_absolute_and_relative_differences():
    a = _report(0.40, 0.10, {"recs_blend": "max"})
    b = _report(0.50, 0.00, {"recs_blend": "rank", "rerank_model_path": "/m.txt"}, hr=0.1)
    md = compare_reports(a, b, "base", "new")
    assert "| system | metric | base | new | new - base | relative |" in md
    assert "| live_api | ndcg_at_10 | 0.4000 | 0.5000 | +0.1000 | +25.0% |" in md
    assert "| live_api | zero_result_rate | 0.1000 | 0.0000 | -0.1000 | -100.0% |" in md
    assert "| bm25_tiered | ndcg_at_10 | 0.4000 | 0.4000 | +0.0000 | +0.0% |" in md
    assert "| live_api | hr@10 | - | 0.1000 | - | - |" in md
    assert "| recs_blend | max | rank |" in md
    assert "| rerank_model_path | (default) | /m.txt |" in md


def test_compare_of_the_same_configuration_says_so():
    md = compare_reports(_report(0.4, 0.1, {}), _report(0.4, 0.1, {}))
    assert "none: the same settings" in md


def test_metric_difference_handles_zero_and_non_numbers():
    assert metric_difference(0.0, 0.0) == ("+0.0000", "+0.0%")
    assert metric_difference(0.0, 0.2) == ("+0.2000", "-")
    assert metric_difference(3, 5) == ("+2", "+66.7%")
    assert metric_difference(None, 1.0) == ("-", "-")


def test_the_compare_command_prints_the_table_and_exits_zero(tmp_path: Path):
    write_report(_report(0.40, 0.10, {}), tmp_path / "a")
    write_report(_report(0.44, 0.10, {"recs_blend": "rank"}), tmp_path / "b")
    result = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "a" / "report.json"),
                                      str(tmp_path / "b" / "report.json"),
                                      "--out", str(tmp_path / "cmp.md")])
    assert result.exit_code == 0, result.output
    assert "| live_api | ndcg_at_10 | 0.4000 | 0.4400 | +0.0400 | +10.0% |" in result.output
    assert "| recs_blend | (default) | rank |" in result.output
    assert (tmp_path / "cmp.md").read_text().startswith("# a vs b")


def test_the_eval_commands_refuse_a_bad_setting_and_missing_data(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "recs", "--data-dir", str(tmp_path), "--out",
                                 str(tmp_path / "r"), "--set", "no_such_setting=1"])
    assert result.exit_code == 1
    assert "no_such_setting" in result.output and "not a setting" in result.output
    result = runner.invoke(app, ["eval", "search", "--data-dir", str(tmp_path), "--out",
                                 str(tmp_path / "r")])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "homedepot/products.csv" in output and "--data-dir" in output
    assert not (tmp_path / "r").exists()
