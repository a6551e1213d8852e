"""What exactly-once delivery costs, side by side in one run: webhook calls/s of the signed POST
alone (``webhook.send`` in a loop, no outbox), of one delivery service working through the
outbox (due query, claim with ``if_seq_no``, send, settle: what runs in production), and of two
delivery services sharing one outbox, all to the same local HTTP receiver.

Usage: python -m tests.bench.delivery [--alerts N]   (wire into `make bench` next to watches.py)
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from elasticsearch import Elasticsearch
from rich.console import Console
from rich.table import Table

from services.delivery import webhook
from services.delivery.service import DeliveryService
from shared.schemas import utcnow
from shared.settings import Settings
from shared.watches.models import alert_index, watch_index
from shared.watches.outbox import Outbox, delivery_status
from tests.bench.results import record
from tests.support.alerts import pending_alerts
from tests.support.indices import drop_dateline_index
from tests.support.receivers import WebhookReceiver


def _drain(services: list[DeliveryService], es: Elasticsearch, alias: str, count: int) -> float:
    """Seconds until ``services`` (each in a thread) delivered ``count`` alerts."""
    stop = threading.Event()

    def run(service: DeliveryService) -> None:
        while not stop.is_set():
            if service.tick() == 0:
                stop.wait(0.05)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    while delivery_status(es, alias, utcnow()).delivered < count:
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join()
    return seconds


def bench_delivery(es_url: str, alerts: int, console: Console) -> dict[str, float]:
    es = Elasticsearch(es_url)
    hook = WebhookReceiver().start()
    base = Settings(
        _env_file=None,  # type: ignore[call-arg]
        elasticsearch_url=es_url,
        webhook_secret="bench-webhook-secret",
        webhook_allowed_hosts=["127.0.0.1"],
    )
    figures: dict[str, float] = {}
    try:
        # The signed POST alone, on alerts as delivery reads them.
        alias = f"bench-delivery-{uuid.uuid4().hex[:8]}"
        settings = base.model_copy(update={"index": alias})
        pending_alerts(es, settings, hook.url, alerts, watch="Bench")
        due = Outbox(es, alias).due("webhook", utcnow(), alerts)
        client = webhook.make_client(settings)
        started = time.perf_counter()
        for item in due:
            assert webhook.send(client, hook.url, item.alert, settings).accepted
        figures["delivery_raw_post_per_s"] = len(due) / (time.perf_counter() - started)
        client.close()
        drop_dateline_index(es, alias)
        es.indices.delete(index=[alert_index(alias), watch_index(alias)], ignore_unavailable=True)
        for workers, name in ((1, "delivery_one_service_per_s"), (2, "delivery_two_services_per_s")):
            alias = f"bench-delivery-{uuid.uuid4().hex[:8]}"
            settings = base.model_copy(update={"index": alias})
            pending_alerts(es, settings, hook.url, alerts, watch="Bench")
            services = [DeliveryService(Elasticsearch(es_url), alias, settings) for _ in range(workers)]
            figures[name] = alerts / _drain(services, es, alias, alerts)
            for service in services:
                service.http.close()
            drop_dateline_index(es, alias)
            es.indices.delete(index=[alert_index(alias), watch_index(alias)], ignore_unavailable=True)
    finally:
        hook.stop()
    calls = [c.headers["x-dateline-alert"] for c in hook.received()]
    assert len(calls) == 3 * alerts and len(set(calls)) == 3 * alerts, "an alert was sent twice"
    table = Table(title=f"Webhook delivery, {alerts} alerts to a local receiver")
    table.add_column("what")
    table.add_column("alerts/s", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:.0f}")
    console.print(table)
    record(figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    args = parser.parse_args()

    from tests.bench.__main__ import BENCH_DATA
    from tests.support.services import BackingServices, free_port

    services = BackingServices(BENCH_DATA, redis_port=free_port(), es_port=free_port())
    services.start("elasticsearch")
    try:
        bench_delivery(services.es_url, args.alerts, Console())
    finally:
        services.stop()


if __name__ == "__main__":
    main()
