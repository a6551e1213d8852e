"""kill -9 of a delivery process while it sends, with a second one running beside it.

Two delivery processes work through one outbox: each alert is claimed by one of them
(shared/watches/outbox.py). The receiver is slow, so the kill lands between a call the
receiver took and the killed process recording it: that alert stays claimed until its lease
runs out and is then sent again, with the same X-Dateline-Alert, which is the one repeat the
design allows (and the header lets a receiver drop). Everything else is sent exactly once,
and every alert ends delivered.
"""

from __future__ import annotations

import signal
from collections import Counter

from shared.schemas import utcnow
from shared.settings import Settings
from shared.watches.models import Alert, alert_index, watch_index
from shared.watches.outbox import delivery_status
from tests.integration.faults.conftest import log_lines
from tests.support.alerts import pending_alerts
from tests.support.processes import wait_until
from tests.support.receivers import WebhookReceiver

ALERTS = 12
SECRET = "fault-test-webhook-secret"


def test_a_delivery_process_killed_mid_send_loses_nothing_and_repeats_only_its_claim(make_stack):
    hook = WebhookReceiver(delay=1.0).start()
    env = {
        "DATELINE_WEBHOOK_SECRET": SECRET,
        "DATELINE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "DATELINE_WEBHOOK_TIMEOUT_SECONDS": "3",  # a lease of 3 * 4 + 30 = 42 s
        "DATELINE_DELIVERY_TICK_SECONDS": "0.2",
        "DATELINE_HEARTBEAT_SECONDS": "2",
    }
    stack = make_stack(extra_env=env)
    settings = Settings(
        _env_file=None,
        elasticsearch_url=stack.es_url,
        index=stack.alias,
        webhook_allowed_hosts=["127.0.0.1"],
    )
    try:
        assert pending_alerts(stack.es, settings, hook.url, ALERTS, watch="Harbour") == ALERTS

        first = stack.start("delivery", "delivery")
        second = stack.start("delivery-b", "delivery")
        # Both sending (the receiver answers after a second), then one dies without a word.
        wait_until(
            lambda: len(hook.received()) >= 3, timeout=120, what="the first calls", processes=[first, second]
        )
        first.kill(signal.SIGKILL)

        def everything_delivered() -> bool:
            found = delivery_status(stack.es, stack.alias, utcnow())
            return found.delivered == ALERTS

        wait_until(
            everything_delivered, timeout=300, every=1, what="every alert delivered", processes=[second]
        )
        calls = Counter(c.headers["x-dateline-alert"] for c in hook.received())
        stack.es.indices.refresh(index=alert_index(stack.alias))
        alerts = {
            hit["_id"]: Alert.model_validate(hit["_source"])
            for hit in stack.es.search(index=alert_index(stack.alias), size=100)["hits"]["hits"]
        }
        assert set(calls) == set(alerts) and len(alerts) == ALERTS
        repeated = {ident for ident, n in calls.items() if n > 1}
        # At most the one alert the killed process had in hand, sent again after its lease
        # (a second claim: two attempts), with the same id for the receiver to drop.
        assert len(repeated) <= 1 and all(n <= 2 for n in calls.values()), calls
        assert all(alerts[ident].webhook.attempts == 2 for ident in repeated)  # type: ignore[union-attr]
        assert all(c.signed_by(SECRET) for c in hook.received())
        assert log_lines(second, "Traceback") == []
    finally:
        hook.stop()
        stack.es.indices.delete(
            index=[alert_index(stack.alias), watch_index(stack.alias)], ignore_unavailable=True
        )
