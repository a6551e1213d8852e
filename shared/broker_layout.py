"""Every read of kombu's private Redis layout, in one place.

The delivery guarantee (the reconciler in services/ingest, ``dateline status``) looks into
the broker: which task waits longest in a queue, which tasks sit at a queue's ends, which
tasks a worker took and has not acknowledged. Celery offers no API for any of that, so this
module reads how kombu's Redis transport keeps messages, which kombu may change in any
release. Nothing else in Dateline reads those keys: when kombu changes its layout, this is
the one module to update, and ``tests/integration/test_broker_contract.py`` (a real task
through Celery into a real Redis, read back here) fails first, saying so.

Written against kombu 5.7 (``kombu/transport/redis.py``), whose layout is:

* a queue is a Redis list named after the queue; ``Channel._put`` pushes on the left
  (LPUSH) and ``_brpop_start`` pops on the right, so the element at index -1 has waited
  longest. A message with a priority goes to a list of its own (``queue\\x06\\x16<pri>``);
  Dateline never sets one, so each stage's work is in the list named after its queue.
* a message is a JSON envelope whose ``body`` is base64 of Celery's protocol-2 body,
  ``[args, kwargs, embed]``; a stage task's one argument is its ``StageTask`` (wire form).
* ``QoS.append`` keeps every delivered, unacknowledged message in the hash ``unacked``
  (delivery tag -> JSON ``[envelope, exchange, routing key]``) until it is acknowledged, or
  restored to its queue after the visibility timeout.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import kombu
import redis

from shared.keys import STAGE_QUEUES
from shared.schemas import StageName, StageTask

# The kombu minor release this layout was read from; pyproject caps kombu below the next.
KOMBU_WRITTEN_AGAINST = "5.7"
# kombu's Redis transport: Channel.unacked_key.
UNACKED_KEY = "unacked"


class BrokerLayoutChanged(RuntimeError):
    """What kombu keeps in Redis is not what this module was written to read."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"kombu's Redis layout changed: {what}. shared/broker_layout.py was written against kombu "
            f"{KOMBU_WRITTEN_AGAINST} and this is kombu {kombu.__version__}; read kombu/transport/redis.py "
            "of this version, update shared/broker_layout.py (and KOMBU_WRITTEN_AGAINST), then raise the "
            "kombu cap in pyproject.toml."
        )


def queue_key(stage: StageName) -> str:
    """The Redis list that holds ``stage``'s waiting tasks."""
    return STAGE_QUEUES[stage]


def read_envelope(raw: bytes | str | dict[str, Any]) -> StageTask:
    """The ``StageTask`` inside one message envelope; ``BrokerLayoutChanged`` when the
    envelope or its body is not shaped as kombu 5.7 writes it."""
    try:
        envelope = raw if isinstance(raw, dict) else json.loads(raw)
        body = envelope["body"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BrokerLayoutChanged(f"a message is not a JSON envelope with a 'body' ({exc!r})") from exc
    try:
        args = json.loads(base64.b64decode(body))[0]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BrokerLayoutChanged(
            f"a message body is not base64 JSON [args, kwargs, embed] ({exc!r})"
        ) from exc
    try:
        return StageTask.from_wire(args[0])
    except (ValueError, IndexError, TypeError) as exc:
        raise BrokerLayoutChanged(f"a message's first argument is not a StageTask ({exc!r})") from exc


def task_of_message(raw: bytes | str | dict[str, Any]) -> StageTask | None:
    """``read_envelope``, or None for a message that is not one of our stage tasks (another
    sender's, an older release's): the reconciler reads what it can and moves on."""
    try:
        return read_envelope(raw)
    except BrokerLayoutChanged:
        return None


def read_unacked_entry(value: bytes | str) -> StageTask:
    """The ``StageTask`` of one value of the unacknowledged hash (``[envelope, exchange,
    routing key]``); ``BrokerLayoutChanged`` when it is shaped otherwise."""
    try:
        envelope = json.loads(value)[0]
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise BrokerLayoutChanged(
            f"an entry of the '{UNACKED_KEY}' hash is not [envelope, exchange, routing key] ({exc!r})"
        ) from exc
    return read_envelope(envelope)


@dataclass(frozen=True)
class Oldest:
    """The task that has waited longest in a queue."""

    ticket: int | None  # None: a message without a ticket (another sender's, or an older release's)


def waiting(client: redis.Redis, stage: StageName) -> int:
    """How many tasks wait in ``stage``'s queue."""
    return int(client.llen(queue_key(stage)))


def oldest_waiting(client: redis.Redis, stage: StageName) -> Oldest | None:
    """The task that has waited longest in ``stage``'s queue (the right end); None when the
    queue is empty."""
    raw = client.lindex(queue_key(stage), -1)
    if raw is None:
        return None
    task = task_of_message(raw)
    return Oldest(task.ticket if task is not None else None)


def tasks_near_ends(client: redis.Redis, stage: StageName, count: int) -> list[StageTask]:
    """The tasks at both ends of ``stage``'s queue: kombu puts a task of a vanished worker
    back at the end consumed next, and one rejected for a retry at the other end."""
    queue = queue_key(stage)
    length = int(client.llen(queue))
    raw = (
        client.lrange(queue, 0, -1)
        if length <= 2 * count
        else [*client.lrange(queue, 0, count - 1), *client.lrange(queue, -count, -1)]
    )
    return [task for task in map(task_of_message, raw) if task is not None]


def delivered_tasks(client: redis.Redis) -> list[StageTask]:
    """Tasks a worker took but has not acknowledged yet (kombu's unacknowledged hash)."""
    found = []
    for value in client.hvals(UNACKED_KEY):
        try:
            found.append(read_unacked_entry(value))
        except BrokerLayoutChanged:
            continue  # not one of our stage tasks
    return found
