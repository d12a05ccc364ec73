"""The worker subclass: no spinner handler, so the root logger keeps its configured level."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from streamrec.agents.worker import StreamrecWorker


def test_root_logger_setup_adds_no_spinner_and_keeps_the_level() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    worker = SimpleNamespace(spinner=object())
    try:
        root.setLevel(logging.WARNING)
        StreamrecWorker.on_setup_root_logger(worker, root, logging.WARNING)  # type: ignore[arg-type]
        assert worker.spinner is None
        assert root.level == logging.WARNING  # Faust's spinner would have set DEBUG
        assert root.handlers == handlers
        assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)
