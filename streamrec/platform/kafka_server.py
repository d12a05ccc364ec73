"""Apache Kafka 4.x (KRaft, single node) run from jars fetched from Maven Central, no Docker."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streamrec.platform.processes import spawn, stop_process_group, wait_until


def new_cluster_id() -> str:
    """A random KRaft cluster id: a UUID in URL-safe base64, never starting with "-" (the
    storage tool would read it as an option and fail, one start in 64; Kafka's own
    ``Uuid.randomUuid`` avoids such ids for the same reason)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaJars:
    """The broker's classpath: ``<cache_dir>/kafka-<version>/libs``, fetched once with ``mvn``."""

    def __init__(self, cache_dir: Path, version: str) -> None:
        self.version = version
        self.home = cache_dir / f"kafka-{version}"
        self.libs = self.home / "libs"
        self.marker = self.home / ".complete"

    def ensure(self) -> Path:
        if self.marker.exists():
            return self.libs
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (`mvn`) is needed once to fetch the Kafka jars: "
                               "apt-get install maven")
        if shutil.which("java") is None:
            raise RuntimeError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre")
        self.home.mkdir(parents=True, exist_ok=True)
        template = resources.files("streamrec.platform").joinpath("kafka", "pom.xml").read_text()
        pom = self.home / "pom.xml"
        pom.write_text(template.replace("@KAFKA_VERSION@", self.version))
        tmp_libs = self.home / "libs.partial"
        shutil.rmtree(tmp_libs, ignore_errors=True)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={tmp_libs}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"fetching Kafka {self.version} jars failed:\n"
                               f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
        shutil.rmtree(self.libs, ignore_errors=True)
        tmp_libs.rename(self.libs)
        self.marker.touch()
        return self.libs


class KafkaServer:
    """One combined broker+controller node listening on ``127.0.0.1:<port>``."""

    def __init__(self, jars: KafkaJars, work_dir: Path, port: int, controller_port: int,
                 heap: str = "512m") -> None:
        self.jars = jars
        self.work_dir = work_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.data_dir = work_dir / "data"
        self.config_file = work_dir / "server.properties"
        self.log_file = work_dir / "kafka.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _classpath(self) -> str:
        return f"{self.jars.ensure()}/*"

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        log4j = resources.files("streamrec.platform").joinpath("kafka", "log4j2.properties")
        return [
            "java", f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:TieredStopAtLevel=1" if main != "kafka.Kafka" else "-XX:+UseStringDeduplication",
            "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}",
            f"-Dstreamrec.kafka.log={self.log_file}",
            "-cp", self._classpath(), main, *args,
        ]

    def write_config(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "4",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "auto.create.topics.enable": "false",
        }
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def format_storage(self) -> None:
        """Format the KRaft storage once; an already formatted directory is kept."""
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.config_file), "--ignore-formatted"),
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def start(self, timeout_s: float = 60.0) -> subprocess.Popen[bytes]:
        self.write_config()
        self.format_storage()
        self.proc = spawn(self._java("kafka.Kafka", str(self.config_file), heap=self.heap),
                          self.work_dir / "kafka.stdout")
        wait_until(self.ready, timeout_s, f"Kafka on {self.bootstrap}", self.proc, self.log_file)
        return self.proc

    def ready(self) -> bool:
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0,
                             "socket.connection.setup.timeout.ms": 1000})
        try:
            admin.list_topics(timeout=1.0)
        except KafkaException:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc.pid, timeout_s=20.0)
            self.proc = None
