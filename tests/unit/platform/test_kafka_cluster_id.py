"""KRaft cluster ids the storage tool accepts: 22 URL-safe base64 characters of a UUID,
never a leading "-" (argparse would take it for an option)."""

from __future__ import annotations

import base64
import uuid

from streamrec.platform import kafka_server
from streamrec.platform.kafka_server import new_cluster_id


def test_cluster_ids_are_uuids_and_never_start_with_a_dash(monkeypatch) -> None:
    dashed = uuid.UUID(bytes=b"\xfb" + bytes(15))  # encodes to "-wAAAAAAAAAAAAAAAAAAAA"
    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    drawn = iter([dashed, dashed, uuid.UUID(int=7)])
    monkeypatch.setattr(kafka_server.uuid, "uuid4", lambda: next(drawn))
    cluster_id = new_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(uuid.UUID(int=7).bytes).decode().rstrip("=")
    monkeypatch.undo()
    for _ in range(2000):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        uuid.UUID(bytes=base64.urlsafe_b64decode(cluster_id + "=="))
