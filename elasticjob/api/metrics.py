"""Prometheus metrics of a master: HTTP traffic, leadership, and registry sizes read at scrape time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MasterMetrics:
    """One registry per master (no process-global state, so tests can run several masters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "elasticjob_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "elasticjob_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
        )
        self.is_leader = Gauge(
            "elasticjob_master_is_leader", "1 while this master is the leader", registry=self.registry
        )
        self.leader_changes = Counter(
            "elasticjob_leader_changes", "Times this master gained or lost leadership", registry=self.registry
        )

        self._scheduler = {
            "failovers": Counter(
                "elasticjob_failovers",
                "Shards queued to run again (cause LOST: failover; RETRY: the job's own failure retried)",
                ["cause"],
                registry=self.registry,
            ),
            "lost_tasks": Counter(
                "elasticjob_lost_tasks",
                "Tasks declared LOST (agent gone or forgot them)",
                registry=self.registry,
            ),
            "missed_firings": Counter(
                "elasticjob_missed_firings",
                "Firings that never ran (misfire policy, maxPendingFirings, startingDeadlineSeconds)",
                registry=self.registry,
            ),
            "reconciliations": Counter(
                "elasticjob_reconciliations",
                "Tasks agents ran that the state lacked: adopted or killed",
                ["action"],
                registry=self.registry,
            ),
        }

        # How late the scheduler is: what to alert on when jobs start late (README, "Monitoring").
        lateness_buckets = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
        self._observed = {
            "launch_lateness_seconds": Histogram(
                "elasticjob_launch_lateness_seconds",
                "Per shard of a cron firing (first attempt): seconds from the instant to its launch "
                "(0: launched ahead)",
                buckets=lateness_buckets,
                registry=self.registry,
            ),
            "start_lateness_seconds": Histogram(
                "elasticjob_start_lateness_seconds",
                "Per shard of a cron firing (first attempt): seconds from the instant to its process start, "
                "as its agent reports it",
                buckets=lateness_buckets,
                registry=self.registry,
            ),
            "cycle_seconds": Histogram(
                "elasticjob_scheduler_cycle_seconds",
                "Duration of the leader's scheduling cycles that had work (statuses, firings, housekeeping)",
                buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                registry=self.registry,
            ),
        }
        self._levels = {
            "waiting_jobs": Gauge(
                "elasticjob_waiting_jobs",
                "Jobs whose due firing waits for room on the agents (the leader's count)",
                registry=self.registry,
            ),
        }

        self.webhook_deliveries = Counter(
            "elasticjob_webhook_delivery_attempts",
            "Webhook delivery attempts by outcome: delivered, retrying (to try again), failed (given up)",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_pending = Gauge(
            "elasticjob_webhook_pending_deliveries",
            "Webhook deliveries waiting to be sent or tried again (the leader's count)",
            registry=self.registry,
        )

    def delivery_attempt(self, outcome: str) -> None:
        """The webhook worker's counter (``webhooks.worker.DeliveryMetrics``)."""
        self.webhook_deliveries.labels(outcome).inc()

    def pending_deliveries(self, count: int) -> None:
        self.webhook_pending.set(count)

    def count(self, event: str, amount: int = 1, **labels: str) -> None:
        """The scheduler's counters (``SchedulerMetrics``)."""
        counter = self._scheduler[event]
        (counter.labels(**labels) if labels else counter).inc(amount)

    def observe(self, name: str, value: float) -> None:
        """The scheduler's distributions (``SchedulerMetrics``)."""
        self._observed[name].observe(value)

    def level(self, name: str, value: float) -> None:
        """The scheduler's levels (``SchedulerMetrics``)."""
        self._levels[name].set(value)

    def leadership(self, leader: bool) -> None:
        self.is_leader.set(1 if leader else 0)
        self.leader_changes.inc()

    def add_sizes(self, read_sizes: Callable[[], dict[str, int]]) -> None:
        """Expose counts read from ZooKeeper at scrape time (``{"jobs": n, "apps": n, "agents": n}``)."""
        self.registry.register(_SizeCollector(read_sizes))


class _SizeCollector(Collector):
    def __init__(self, read_sizes: Callable[[], dict[str, int]]) -> None:
        self._read = read_sizes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            sizes = self._read()
        except Exception:  # noqa: BLE001 - a scrape during a ZooKeeper outage reports what it can
            return
        for name, value in sorted(sizes.items()):
            yield GaugeMetricFamily(f"elasticjob_registered_{name}", f"Registered {name}", value=value)


class MetricsMiddleware:
    """Count requests by route template (not raw path, to keep label cardinality bounded)."""

    def __init__(self, app: ASGIApp, metrics: MasterMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.http_requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.http_seconds.labels(route).observe(time.perf_counter() - started)
