"""What a report records about its run: code version, machine, load, data files."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def code_version(repo: Path = PACKAGE_ROOT) -> str:
    """``git describe --always --dirty`` of the code's checkout ("unknown" without git)."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=repo,
                             text=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def machine_facts() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "arch": platform.machine(),
            "python": platform.python_version(), "system": platform.platform(terse=True),
            "hostname": platform.node()}


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_facts(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Path, size and SHA-256 of each data file the run read."""
    out = []
    for path in paths:
        path = Path(path)
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out.append({"path": str(path.resolve()), "bytes": path.stat().st_size,
                    "sha256": digest.hexdigest()})
    return out
