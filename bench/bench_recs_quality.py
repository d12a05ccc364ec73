"""Next-item recommendation quality through the live system, next to offline baselines.

    .venv/bin/python -m bench.bench_recs_quality --data-dir ../shared/data \
        [--dataset amazon-games|yoochoose] [--eval-users 2000] [--limit-background N]

A thin wrapper over ``streamrec.evaluation.recs_evaluation`` (the code behind
``streamrec eval recs``; its docstring says what is measured and how). Prints a table
and one JSON line (``--details PATH`` also writes one JSON line per evaluation user,
for looking at examples).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from streamrec.evaluation.recs_evaluation import (
    DATASETS,
    RecsEvaluationConfig,
    dataset_name,
    recs_table,
    run_recs_evaluation,
)
from streamrec.evaluation.run_context import code_version


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", type=dataset_name, choices=DATASETS,
                        default="amazon-games")
    parser.add_argument("--eval-users", type=int, default=2000,
                        help="held-out users (amazon-games) or test sessions (yoochoose)")
    parser.add_argument("--limit-background", type=int, default=None,
                        help="stream only the first N background users / training sessions")
    parser.add_argument("--limit-items", type=int, default=None,
                        help="publish only the first N catalog items (quick checks only)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-lag", type=int, default=2000,
                        help="records produced but not yet consumed by the users worker")
    parser.add_argument("--max-refresh-lag-s", type=float, default=2.0,
                        help="hold production while candidate refreshes lag more than this")
    parser.add_argument("--catalog-timeout", type=float, default=3600.0)
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--redis-maxmemory", default="6gb")
    parser.add_argument("--details", type=Path, default=None,
                        help="write one JSON line per evaluation user here")
    parser.add_argument("--keep-logs", type=Path, default=None,
                        help="copy the worker and API logs into this folder at the end")
    args = parser.parse_args()
    if not args.data_dir.exists():
        sys.exit(f"data directory {args.data_dir} not found (needs ../shared/data, "
                 "see its README); pass --data-dir")

    load_start = os.getloadavg()
    commit = code_version()
    config = RecsEvaluationConfig(
        data_dir=args.data_dir, dataset=args.dataset, eval_users=args.eval_users,
        limit_background=args.limit_background, limit_items=args.limit_items,
        seed=args.seed, max_lag=args.max_lag, max_refresh_lag_s=args.max_refresh_lag_s,
        catalog_timeout=args.catalog_timeout, settle_timeout=args.settle_timeout,
        redis_maxmemory=args.redis_maxmemory, details=args.details, keep_logs=args.keep_logs)
    result = run_recs_evaluation(config)
    print(recs_table(result))
    diagnosis = result["diagnosis"]
    k = result["k"]
    print(f"live items by source: {diagnosis['live_items_by_source']}")
    print(f"live hits by source: {diagnosis['live_hits_by_source']}")
    print(f"target among the cached candidates: {diagnosis['target_in_candidate_cache']:.3f} "
          f"(first source there: {diagnosis['cached_target_first_source']})")
    print(f"cached order HR@{k}: {diagnosis[f'cache_order_hr@{k}']:.4f}, without "
          f"history items: {diagnosis[f'cache_order_without_history_hr@{k}']:.4f}; users "
          f"served a history item: {diagnosis['users_with_history_items_served']:.3f}")
    print(f"live vs transitions: {diagnosis['live_vs_transitions']}")
    print(f"HR by history length: {diagnosis['hr_by_history_length']}")
    load_end = os.getloadavg()
    result.pop("report_metrics", None)
    out = {
        "bench": "recs_quality",
        "dataset": result["dataset"],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "commit": commit,
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in load_end],
        **{key: value for key, value in result.items() if key not in ("bench", "dataset")},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
