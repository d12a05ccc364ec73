"""The text encoder in-process: CPU and wall time per product text, as the catalog agent calls it.

    .venv/bin/python -m bench.bench_encoder --data-dir ../shared/data \
        [--catalog fashion|homedepot] [--limit N] [--call-size 64] [--parallel-batches 2]
        [--batch-size 8] [--keep-fusions] [--rounds 2]

Builds each product's embedded text (``product_text``), then feeds the texts to the
configured encoder in calls of ``--call-size`` (the catalog agent's micro-batch), each
call split into batches of ``--batch-size`` run ``--parallel-batches`` at a time (the
local catalog worker's setting). ``--keep-fusions`` builds the ONNX session with every
ONNX Runtime fusion on (``EncoderConfig.disabled_fusions=()``), for comparison with the
default. Reports, per round, CPU ms and wall ms per text and texts/s, and the share of
texts that repeat another text of the same call (embedded once). Prints a table, then ONE
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from streamrec.datasets.fashion_catalog import fashion_catalog_changes
from streamrec.datasets.homedepot_catalog import homedepot_catalog_changes
from streamrec.indexer.product_text import product_text
from streamrec.indexer.text_encoder import EncoderConfig, create_text_encoder


def load_texts(data_dir: Path, catalog: str, limit: int | None) -> list[str]:
    changes = (fashion_catalog_changes(data_dir) if catalog == "fashion"
               else homedepot_catalog_changes(data_dir))
    return [product_text(record) for record in islice(changes, limit)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--catalog", choices=("fashion", "homedepot"), default="fashion")
    parser.add_argument("--limit", type=int, default=None, help="products (default: all)")
    parser.add_argument("--call-size", type=int, default=64, help="texts per encode call")
    parser.add_argument("--parallel-batches", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--keep-fusions", action="store_true",
                        help="every ONNX Runtime fusion on (the default leaves some off)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    texts = load_texts(args.data_dir, args.catalog, args.limit)
    calls = [texts[i:i + args.call_size] for i in range(0, len(texts), args.call_size)]
    repeated = sum(len(call) - len(set(call)) for call in calls)
    config = EncoderConfig(parallel_batches=args.parallel_batches, batch_size=args.batch_size,
                           **({"disabled_fusions": ()} if args.keep_fusions else {}))
    encoder = create_text_encoder(config)
    encoder.encode_texts(texts[:200])  # warm-up: session start, allocator
    rounds = []
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for call in calls:
            encoder.encode_texts(call)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rounds.append({"cpu_ms_per_text": round(1000 * cpu / len(texts), 3),
                       "wall_ms_per_text": round(1000 * wall / len(texts), 3),
                       "texts_per_s": round(len(texts) / wall, 1)})

    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    fusions = "all on" if args.keep_fusions else f"off: {', '.join(config.disabled_fusions)}"
    print(f"{args.catalog}: {len(texts):,} texts in calls of {args.call_size}, "
          f"{args.parallel_batches} parallel batches of {args.batch_size}, "
          f"{encoder.model_id}, fusions {fusions}; repeated within a call "
          f"{repeated / len(texts):.1%} ({machine})")
    print(f"{'round':>5} {'CPU ms/text':>12} {'wall ms/text':>13} {'texts/s':>9}")
    for n, row in enumerate(rounds, 1):
        print(f"{n:>5} {row['cpu_ms_per_text']:>12.3f} {row['wall_ms_per_text']:>13.3f} "
              f"{row['texts_per_s']:>9,.1f}")
    print(json.dumps({
        "bench": "encoder", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine, "catalog": args.catalog, "texts": len(texts),
        "call_size": args.call_size, "parallel_batches": args.parallel_batches,
        "batch_size": args.batch_size, "model_id": encoder.model_id,
        "disabled_fusions": list(config.disabled_fusions),
        "repeated_share": round(repeated / len(texts), 4), "rounds": rounds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
