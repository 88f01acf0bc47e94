"""The intake: the notifications of small requests, gathered so they are planned together.

A request for one recipient was one pipeline task, then a send task per channel, each with
its own transactions and broker round trips: at 100 such requests a second that is hundreds
of tiny tasks a second, more than the workers' CPU could take (`make bench`, in-app). Their
ids go onto a Redis list instead, and one drain task at a time takes them off in chunks of up
to CLARION_CHUNK_SIZE. When traffic is light a chunk is one notification and nothing waits
longer than before; under load the chunks grow, and each chunk's planning, transaction and
send tasks serve many notifications.

Nothing depends on the list alone (DESIGN.md invariant 1): the rows are committed before
their ids are pushed, and a notification whose id is lost (Redis restarted, a drain killed
after taking it) is still `accepted`, so the sweeper plans it after
CLARION_ACCEPTED_GRACE_SECONDS.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

INTAKE_KEY = "clarion:intake"
# Its name beside the Celery queues wherever backlogs are shown or judged (delivery/status.py).
INTAKE_NAME = "intake"
DRAINING_KEY = "clarion:intake:draining"
# A drain holds this flag while it works and renews it with every chunk; a drain killed
# mid-way lets it lapse, and the next push starts a new one.
DRAINING_TTL_SECONDS = 30


def intake_push(client: redis.Redis, notification_ids: Sequence[str]) -> bool:
    """Add these ids to the intake. True when no drain was running: the caller starts one."""
    with client.pipeline(transaction=False) as pipe:
        pipe.rpush(INTAKE_KEY, *notification_ids)
        pipe.set(DRAINING_KEY, "1", nx=True, ex=DRAINING_TTL_SECONDS)
        _, drain_needed = pipe.execute()
    return bool(drain_needed)


def intake_take(client: redis.Redis, count: int) -> list[str]:
    """Up to `count` ids, oldest first; renews the running drain's flag."""
    with client.pipeline(transaction=False) as pipe:
        pipe.lpop(INTAKE_KEY, count)
        pipe.expire(DRAINING_KEY, DRAINING_TTL_SECONDS)
        taken, _ = pipe.execute()
    return [pk.decode() for pk in taken or ()]


def intake_finish(client: redis.Redis) -> bool:
    """End a drain that found the intake empty. True when ids came meanwhile and this drain
    took the flag back, so it goes on: a push after its last take saw the flag still set and
    started no drain of its own."""
    client.delete(DRAINING_KEY)
    return bool(client.llen(INTAKE_KEY)) and bool(client.set(DRAINING_KEY, "1", nx=True, ex=DRAINING_TTL_SECONDS))


def intake_abandon(client: redis.Redis) -> None:
    """The drain a push asked for could not be started: clear the flag, so the next push tries
    again instead of waiting for it to lapse."""
    client.delete(DRAINING_KEY)
