"""Send a chunk of deliveries with their provider calls overlapped.

Providers answer in 50–300 ms, so one call at a time caps a worker process near 10 sends/s
however fast everything else is. A send task therefore keeps up to CLARION_SEND_CONCURRENCY
provider calls in flight on a pool of threads, and its own thread does everything else:
claims, attempts and statuses, each round of results recorded as soon as it comes back. The
pool's threads run only `provider_call` (breakers and rate limits in Redis, the provider's
request) and never touch the ORM: Django gives every thread a connection of its own, which a
pool thread would open and never close; the task's connection stays the only one.

Deliveries are claimed as room frees up in the window, not the whole chunk at once, so a
delivery is `sending` only while its call is in flight or its result not yet written. A
worker that dies mid-chunk thus leaves at most `concurrency` sends per task whose fate is
unknown (the only ones that can arrive twice, DESIGN.md invariant 3); its other deliveries
stay `queued` for the sweeper.

Local providers (outbox, inbox) write to Clarion's own database and have no latency to hide:
deliveries whose chain still has one ahead run on the task's thread, each claimed batch of
them in one go (`provider_calls`, one transaction for their results).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait

from django.conf import settings

from delivery.sending import (
    PreparedSend,
    ProviderCall,
    SendStep,
    deliveries_claim,
    provider_call,
    provider_calls,
    send_prepare,
    send_record,
    sends_record,
)

logger = logging.getLogger(__name__)

SendStepHandler = Callable[[int, SendStep], None]


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def send_threads(size: int) -> ThreadPoolExecutor:
    """The process's send pool, kept between tasks so that adapters' per-thread clients and
    their pooled HTTP connections are reused; one however many tasks run at once (the
    critical worker runs its tasks on threads)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="clarion-send")
        return _pools[size]


# A pool's threads do not survive a fork (Celery's prefork children): a child builds its own.
os.register_at_fork(after_in_child=_pools.clear)


def deliveries_send(delivery_ids: Sequence[int], on_step: SendStepHandler, concurrency: int | None = None) -> None:
    """Send these deliveries, up to `concurrency` provider calls at a time. `on_step` gets each
    delivery's next step, on this thread, as soon as its result is recorded.

    A provider that raises fails its own send only: the others go on, that delivery stays
    `sending` for the sweeper (as a worker crash would leave it), and the first such error is
    raised once the rest of the chunk is done.
    """
    size = concurrency or settings.CLARION_SEND_CONCURRENCY
    pool = send_threads(size)
    waiting = deque(dict.fromkeys(delivery_ids))
    in_flight: dict[Future[ProviderCall], PreparedSend] = {}
    errors: list[BaseException] = []
    try:
        while waiting or in_flight:
            room = size - len(in_flight)
            if waiting and room:
                local: list[PreparedSend] = []
                for delivery in deliveries_claim([waiting.popleft() for _ in range(min(room, len(waiting)))]):
                    prepared = send_prepare(delivery)
                    if isinstance(prepared, SendStep):
                        on_step(delivery.pk, prepared)
                    elif prepared.local:
                        local.append(prepared)
                    else:
                        in_flight[pool.submit(provider_call, prepared)] = prepared
                if local:
                    # No latency to hide: the chunk's local sends go at once, recorded together.
                    sends = list(zip(local, provider_calls(local), strict=True))
                    for prepared, step in zip(local, sends_record(sends), strict=True):
                        on_step(prepared.delivery.pk, step)
                continue
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            answered = []
            for future in done:
                error = future.exception()
                if error is None:
                    answered.append(future)
                else:
                    _log_raised(in_flight.pop(future), error)
                    errors.append(error)
            # Out of the window once recorded, not before: should recording fail, `_drain` tries again.
            steps = sends_record([(in_flight[future], future.result()) for future in answered])
            recorded = [(in_flight.pop(future), step) for future, step in zip(answered, steps, strict=True)]
            for prepared, step in recorded:
                on_step(prepared.delivery.pk, step)
    finally:
        _drain(in_flight, on_step)
    if errors:
        raise errors[0]


def _log_raised(prepared: PreparedSend, error: BaseException) -> None:
    logger.error(
        "a provider call raised instead of answering; delivery %s is left sending for the sweeper",
        prepared.delivery.pk,
        exc_info=error,
        extra={"delivery_id": prepared.delivery.pk, "channel": prepared.delivery.channel},
    )


def _drain(in_flight: dict[Future[ProviderCall], PreparedSend], on_step: SendStepHandler) -> None:
    """The task stops early (an error, its soft time limit) with calls in flight. The providers
    may have taken them, so their results are still recorded: left `sending`, the sweeper
    would send them again. Each is tried on its own, as the error that stopped the task may
    well strike again."""
    for future in as_completed(in_flight):
        prepared = in_flight[future]
        error = future.exception()
        if error is not None:
            _log_raised(prepared, error)
            continue
        try:
            on_step(prepared.delivery.pk, send_record(prepared, future.result()))
        except Exception:
            # Not silent: logged, and the task is already failing with the error that stopped it.
            logger.exception("could not record delivery %s after its send", prepared.delivery.pk)
