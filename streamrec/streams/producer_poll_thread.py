"""A daemon thread that serves a producer's delivery reports while an async app runs."""

from __future__ import annotations

import threading

from streamrec.streams.record_producer import RecordProducer


class ProducerPollThread:
    """``poll`` blocks in librdkafka without the GIL, so the thread costs nothing while idle."""

    def __init__(self, producer: RecordProducer, name: str, timeout_s: float = 0.05) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(self.timeout_s)

    def close(self, flush_timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.producer.flush(flush_timeout_s)
