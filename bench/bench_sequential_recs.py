"""A SASRec-style sequential model next to popularity and transitions, offline.

    .venv/bin/python -m bench.bench_sequential_recs --data-dir ../shared/data \
        [--dataset amazon-games|yoochoose] [--eval-users 2000] [--epochs 80]
        [--threads 1] [--seed 7] [--onnx PATH]

The data, evaluation users and training sequences are those of ``streamrec eval recs``
(``recs_evaluation``'s workload, same ``--eval-users`` and ``--seed``): the model
trains on the background users' whole sequences plus the evaluation users' histories
(what the live system sees; never an evaluation target). Early stopping uses
``--validation-users`` background users whose last item is held out of training
(``recs/sequential/validation_split.py``). Popularity and transitions are trained on the
same training sequences as in ``streamrec eval recs`` and every model is scored the same
way (``next_item_comparison``): same users, K, metrics and keep/exclude-history
variants. Latency: one ``recommend`` call per evaluation user, batch 1, on ``--threads``
CPU threads. ``--onnx PATH`` also exports the network and scores it on ONNX Runtime.
Needs the ``train`` extra (PyTorch). Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamrec.evaluation.next_item_comparison import baseline_models, score_next_item_models
from streamrec.evaluation.phase_progress import LogPhaseProgress
from streamrec.evaluation.recs_evaluation import DATASETS, WORKLOADS, dataset_files, dataset_name
from streamrec.evaluation.run_context import code_version, load_avg
from streamrec.recs.sequential.sasrec_config import SasrecConfig
from streamrec.recs.sequential.validation_split import validation_split
from streamrec.settings import load_settings


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = SasrecConfig()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=load_settings().data_dir)
    parser.add_argument("--dataset", type=dataset_name, choices=DATASETS,
                        default="amazon-games")
    parser.add_argument("--eval-users", type=int, default=2000,
                        help="held-out users, as `streamrec eval recs --eval-users`")
    parser.add_argument("--limit-background", type=int, default=None,
                        help="only the first N background users (smoke runs)")
    parser.add_argument("--validation-users", type=int, default=2000,
                        help="background users whose last item early-stops training")
    parser.add_argument("--seed", type=int, default=7,
                        help="evaluation split (as `streamrec eval recs --seed`) and model")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--dim", type=int, default=defaults.dim)
    parser.add_argument("--max-len", type=int, default=defaults.max_len)
    parser.add_argument("--blocks", type=int, default=defaults.blocks)
    parser.add_argument("--heads", type=int, default=defaults.heads)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--loss", choices=("sampled_softmax", "bce"), default=defaults.loss)
    parser.add_argument("--negatives", type=int, default=defaults.negatives,
                        help="sampled negatives (sampled_softmax: per batch, 0 = full "
                        "softmax; bce: per position)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--onnx", type=Path, default=None,
                        help="export the trained network here and score it on ONNX Runtime")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        sys.exit("needs PyTorch: pip install -e '.[train]'")
    missing = [p for p in dataset_files(args.data_dir, args.dataset) if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(map(str, missing))}: pass --data-dir with the folder "
                 "that holds the data sets")
    import torch

    from streamrec.recs.sequential.sasrec_trainer import train_sasrec

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    load_start = load_avg()
    started = time.perf_counter()
    work = WORKLOADS[args.dataset](args.data_dir, args.eval_users, args.limit_background,
                                   None, args.seed)
    split = validation_split(work.background_sequences, args.validation_users, args.seed,
                             extra_training=[case.history for case in work.cases])
    data_s = time.perf_counter() - started
    log(f"{work.dataset}: {len(work.background_sequences):,} background users, "
        f"{len(work.cases):,} evaluation users, {len(split.validation):,} validation users; "
        f"{data_s:.1f} s; load {load_avg()}")

    config = SasrecConfig(
        dim=args.dim, max_len=args.max_len, blocks=args.blocks, heads=args.heads,
        dropout=args.dropout, loss=args.loss, negatives=args.negatives,
        batch_size=args.batch_size, learning_rate=args.learning_rate, epochs=args.epochs,
        patience=args.patience, k=work.k, exclude_history=all(work.baseline_variants.values()),
        seed=args.seed, threads=args.threads)
    load_train_start = load_avg()
    run = train_sasrec(split.training, split.validation, config, LogPhaseProgress())
    load_train_end = load_avg()
    log(f"trained {len(run.epochs)} epochs in {run.seconds:.1f} s, best epoch "
        f"{run.best_epoch}; load {load_train_end}")

    models: dict[str, Any] = {**baseline_models(work.training_sequences()),
                              "sasrec": run.recommender}
    onnx: dict[str, Any] = {}
    if args.onnx is not None:
        from streamrec.recs.sequential.sasrec_onnx import (
            OnnxSasrecRecommender,
            export_sasrec_onnx,
        )
        export_sasrec_onnx(run.recommender.network, args.onnx)
        models["sasrec_onnx"] = OnnxSasrecRecommender(
            args.onnx, run.recommender.vocabulary, config.max_len, threads=args.threads)
        onnx = {"path": str(args.onnx), "bytes": args.onnx.stat().st_size}
    scored = score_next_item_models(work.cases, work.k, work.baseline_variants, models)
    catalog_size = len({r["sku"] for r in work.catalog})
    metrics = {name: s.scores.summary(catalog_size) for name, s in scored.items()}
    latency = {name: s.latency_ms() for name, s in scored.items()}
    load_end = load_avg()

    k = work.k
    print(f"\n{work.dataset}: {len(work.cases)} evaluation users, K={k}, SASRec "
          f"{len(run.epochs)} epochs (best {run.best_epoch}) in {run.seconds:.1f} s on "
          f"{args.threads} thread(s)")
    print(f"{'system':<28}{'HR@' + str(k):>9}{'NDCG@' + str(k):>10}{'MRR@' + str(k):>9}"
          f"{'coverage':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, m in metrics.items():
        print(f"{name:<28}{m[f'hr@{k}']:>9.4f}{m[f'ndcg@{k}']:>10.4f}{m[f'mrr@{k}']:>9.4f}"
              f"{m['coverage']:>10.4f}{latency[name]['p50']:>9.3f}{latency[name]['p99']:>9.3f}")
    print(json.dumps({
        "bench": "sequential_recs",
        "dataset": work.dataset,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "commit": code_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "k": k,
        "counts": {"catalog_items": catalog_size,
                   "background_users": len(work.background_sequences),
                   "eval_users": len(work.cases),
                   "validation_users": len(split.validation),
                   "training_sequences": run.sequences,
                   "training_positions": run.positions,
                   "model_items": len(run.recommender.vocabulary),
                   "parameters": run.parameters},
        "metrics": metrics,
        "latency_ms": latency,
        "training": {"seconds": run.seconds, "epochs_run": len(run.epochs),
                     "best_epoch": run.best_epoch, "best_validation": run.best,
                     "epochs": run.epochs, "load_avg_start": load_train_start,
                     "load_avg_end": load_train_end},
        "config": config.to_dict(),
        "onnx": onnx,
        "data_s": round(data_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "seed": args.seed,
        "load_avg_start": load_start,
        "load_avg_end": load_end,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
