"""The worker's Prometheus metrics, and the endpoint that serves them for one process or many.

Names follow Prometheus conventions (``cardpipe_..._total`` counters, ``_seconds`` units). Labels carry codes
and statuses only, never card data or locations, so their number stays bounded.

One endpoint per worker, however many processes it runs: with ``PROMETHEUS_MULTIPROC_DIR`` set, every process
writes its samples to files there (prometheus-client's multiprocess mode) and the endpoint merges them. The
supervisor that starts worker processes calls :func:`multiprocess_metrics` before it starts the children (they
inherit the variable), serves with :func:`worker_endpoint`, and reports each exited child with
:meth:`MultiprocessMetrics.process_exited`::

    with multiprocess_metrics() as shared, worker_endpoint(settings, port):
        ...start children, and for each one that exits: shared.process_exited(pid)

A single process simply serves its own registry: ``with worker_endpoint(settings, port)``. A child started
inside ``multiprocess_metrics()`` knows that its parent serves, and does not bind the port itself.

The queue depth is asked of the broker (a queue declare) by the serving process on its own connection and
thread, every ``interval_s``, so the message path never waits for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.api.errors import ConfigError
from worker.observability import get_logger

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.queues import QueueSettings

log = get_logger("metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Set with the directory by the process that serves the endpoint for its children: they must not serve too.
SERVER_PID_ENV = "CARDPIPE_METRICS_SERVER_PID"
#: Seconds between two queue-depth questions to the broker.
QUEUE_DEPTH_INTERVAL_S = 15.0

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class WorkerMetrics:
    """What a worker process counts. One instance per process (:func:`metrics`)."""

    def __init__(self, registry: CollectorRegistry | None = prometheus_client.REGISTRY) -> None:
        self.tasks = Counter("cardpipe_tasks_total", "Tasks settled, by status (ok, dead, skipped, ignored) and code",
                             ["status", "code"], registry=registry)
        self.upstream_calls = Counter("cardpipe_upstream_calls_total", "Upstream API calls, by answer code",
                                      ["code"], registry=registry)
        self.upstream_latency = Histogram("cardpipe_upstream_latency_seconds", "Upstream API call latency",
                                          buckets=LATENCY_BUCKETS, registry=registry)
        self.limiter_wait = Histogram("cardpipe_limiter_wait_seconds", "Time spent waiting for a rate-limit token",
                                      buckets=WAIT_BUCKETS, registry=registry)
        self.retries = Counter("cardpipe_retries_total", "Retries after a transient failure, by stage and code",
                               ["stage", "code"], registry=registry)
        self.in_flight = Gauge("cardpipe_in_flight_tasks", "Tasks being processed now",
                               multiprocess_mode="livesum", registry=registry)
        self.circuit_open = Gauge("cardpipe_circuit_open", "1 while the upstream circuit breaker is open (outage)",
                                  multiprocess_mode="livemax", registry=registry)
        self.last_success = Gauge("cardpipe_upstream_last_success_timestamp_seconds",
                                  "Unix time of the last successful upstream call", multiprocess_mode="max",
                                  registry=registry)


_metrics: WorkerMetrics | None = None
_metrics_lock = threading.Lock()


def metrics() -> WorkerMetrics:
    """The process-wide metrics, created on first use (Prometheus forbids registering a name twice).

    In a process started with ``PROMETHEUS_MULTIPROC_DIR`` set, samples go to files there (see module doc).
    """
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                if os.environ.get(MULTIPROC_ENV):
                    # prometheus-client picks its value class at import; a process that learnt of the
                    # directory later (a forked child) must pick again before its first metric exists.
                    values.ValueClass = values.get_value_class()
                _metrics = WorkerMetrics()
    return _metrics


def metric_names(registry: CollectorRegistry | None = None) -> set[str]:
    """Every sample name the worker exports (``cardpipe_tasks_total``, ``..._bucket``, ...): for dashboards' tests."""
    registry = registry or CollectorRegistry()
    WorkerMetrics(registry)
    names = {family.name for family in _endpoint_families()}
    for family in registry.collect():
        # A labelled family has no samples before its first use: name them from its type.
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
        names |= {sample.name for sample in family.samples if not sample.name.endswith("_created")}
    return names


# --- what the endpoint itself knows ------------------------------------------------------------------------------

def _endpoint_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    return (GaugeMetricFamily("cardpipe_queue_messages", "Messages waiting in the task queue, as the broker last said",
                              labels=["queue"]),
            GaugeMetricFamily("cardpipe_ratelimit_rate", "Configured upstream calls per second of the worker's limiter "
                              "(backend redis: one quota shared by every worker)", labels=["backend"]))


class EndpointCollector(Collector):
    """What the serving process knows for the whole worker: the queue depth last polled, the configured rate."""

    def __init__(self, poller: QueueDepthPoller | None = None, rate: float | None = None,
                 backend: str = "local") -> None:
        self.poller = poller
        self.rate = rate
        self.backend = backend

    def describe(self) -> Iterable[Metric]:
        return _endpoint_families()

    def collect(self) -> Iterable[Metric]:
        depth, rate = _endpoint_families()
        if self.poller is not None and self.poller.depth is not None:
            depth.add_metric([self.poller.queue_name], self.poller.depth)
        if self.rate is not None:
            rate.add_metric([self.backend], self.rate)
        return [depth, rate]


class QueueDepthPoller:
    """Asks the broker how many messages wait in the task queue, every ``interval_s``, on its own thread.

    A declare answers on RabbitMQ, Redis, SQS and the embedded SQLite queue; a broker that cannot answer
    leaves the gauge at its last value (absent before the first answer) rather than wrong.
    """

    def __init__(self, queue: QueueSettings, interval_s: float = QUEUE_DEPTH_INTERVAL_S) -> None:
        self.queue = queue
        self.queue_name = queue.tasks
        self.interval_s = interval_s
        self.depth: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cardpipe-queue-depth", daemon=True)

    def start(self) -> QueueDepthPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        from worker.queues import pending_count

        while not self._stop.is_set():
            try:
                depth = pending_count(self.queue)
            except Exception as exc:  # the broker away: try again next time
                log.debug("metrics.queue_depth_unavailable", error=f"{type(exc).__name__}: {exc}")
                depth = None
            if depth is not None:
                self.depth = depth
            self._stop.wait(self.interval_s)


# --- serving ------------------------------------------------------------------------------------------------------

@dataclass
class MultiprocessMetrics:
    """The directory where a worker's processes write their samples; see :func:`multiprocess_metrics`."""

    directory: Path

    def process_exited(self, pid: int) -> None:
        """Drop an exited process's live gauges (in-flight, circuit) so they no longer count."""
        multiprocess.mark_process_dead(pid, str(self.directory))


@contextmanager
def multiprocess_metrics(directory: Path | None = None) -> Iterator[MultiprocessMetrics]:
    """Make a fresh samples directory and set ``PROMETHEUS_MULTIPROC_DIR`` for the children; remove both after.

    Call it before starting the worker processes: a process learns where to write when its metrics are created.
    """
    own = directory is None
    path = Path(tempfile.mkdtemp(prefix="cardpipe-metrics-")) if directory is None else directory
    path.mkdir(parents=True, exist_ok=True)
    previous = {name: os.environ.get(name) for name in (MULTIPROC_ENV, SERVER_PID_ENV)}
    os.environ[MULTIPROC_ENV] = str(path)
    os.environ[SERVER_PID_ENV] = str(os.getpid())
    try:
        yield MultiprocessMetrics(path)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if own:
            shutil.rmtree(path, ignore_errors=True)


def endpoint_registry(extra: Collector | None = None) -> CollectorRegistry:
    """What the endpoint serves: every process's samples (multiprocess mode) or this process's, plus ``extra``."""
    registry = CollectorRegistry()
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        metrics()  # the families exist (at zero) before the first message
        registry.register(_Delegate(prometheus_client.REGISTRY))
    if extra is not None:
        registry.register(extra)
    return registry


class _Delegate(Collector):
    """Collects another registry (the process's default one) into the endpoint's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


@contextmanager
def serve_metrics(port: int, *, host: str = "0.0.0.0", queue: QueueSettings | None = None,
                  rate: float | None = None, backend: str = "local",
                  poll_interval_s: float = QUEUE_DEPTH_INTERVAL_S) -> Iterator[int]:
    """Serve ``GET /metrics`` on ``host:port`` while the body runs; yields the bound port (``port=0``: any free one).

    Parameters:
        port: TCP port of the endpoint.
        host: interface to bind (all by default: Prometheus scrapes pods from outside).
        queue: the task queue whose depth the endpoint reports (polled off the message path); None: not reported.
        rate, backend: the limiter's configured calls per second and backend, exported next to the call rate.
        poll_interval_s: seconds between queue-depth polls.
    """
    poller = QueueDepthPoller(queue, poll_interval_s).start() if queue is not None else None
    registry = endpoint_registry(EndpointCollector(poller, rate, backend))
    try:
        server, thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if poller is not None:
            poller.stop()
        raise ConfigError(f"metrics port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = int(server.server_address[1])
    log.info("metrics.serving", host=host, port=bound, multiprocess=bool(os.environ.get(MULTIPROC_ENV)))
    try:
        yield bound
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if poller is not None:
            poller.stop()


def serves_for_its_children_elsewhere() -> bool:
    """True in a worker process whose parent serves the metrics of every process (see :func:`multiprocess_metrics`)."""
    server = os.environ.get(SERVER_PID_ENV)
    return bool(server) and server != str(os.getpid())


def worker_endpoint(settings: Settings, port: int | None = None) -> AbstractContextManager[int | None]:
    """The endpoint of ``cardpipe worker``, or nothing: no port, or a parent serves for this process.

    ``port`` is ``--metrics-port`` (None: ``worker.metrics_port``); 0 means no endpoint.
    """
    port = settings.worker.metrics_port if port is None else port
    if not port or serves_for_its_children_elsewhere():
        return nullcontext(None)
    return serve_metrics(port, queue=settings.queue, rate=settings.ratelimit.rate,
                         backend=settings.ratelimit.backend)
