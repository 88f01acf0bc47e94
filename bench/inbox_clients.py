"""Inbox websocket clients: `python -m bench.inbox_clients SPEC_JSON`, a process of its own.

Opens one socket per (user id, inbox token) of the spec's token file at `address`, waits for
each socket's hello (which proves it joined its user's group), prints one JSON line with the
connection figures, then times every `notification.created` it receives: the latency is the
receipt time less the `sent_at` (epoch seconds) the sender put in the notification's data,
so it runs from the POST, through the pipeline, to the client. On `stop` (stdin) it prints
every latency (ms) and the sockets that dropped as a second JSON line.

The spec: {"address": "127.0.0.1:PORT", "tokens_file", "connect_concurrency"}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

HANDSHAKE_TIMEOUT_SECONDS = 30


@dataclass
class Receipts:
    connected: int = 0
    connect_errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    unexpected_closes: list[str] = field(default_factory=list)


async def _open(address: str, token: str, limit: asyncio.Semaphore, receipts: Receipts) -> Any:
    from websockets.asyncio.client import connect

    async with limit:
        try:
            socket = await connect(
                f"ws://{address}/ws/notifications/?token={token}",
                origin=f"http://{address}",
                open_timeout=HANDSHAKE_TIMEOUT_SECONDS,
                ping_interval=None,
                max_queue=None,
            )
            hello = json.loads(await asyncio.wait_for(socket.recv(), timeout=HANDSHAKE_TIMEOUT_SECONDS))
            if hello.get("type") != "hello":
                raise RuntimeError(f"first message was {hello.get('type')}")
        except Exception as error:  # every failure to connect counts, whatever its kind
            receipts.connect_errors.append(f"{type(error).__name__}: {error}")
            return None
    receipts.connected += 1
    return socket


async def _read(socket: Any, receipts: Receipts) -> None:
    try:
        async for frame in socket:
            received = time.time()
            message = json.loads(frame)
            if message.get("type") == "notification.created" and not message.get("catch_up"):
                sent_at = message["item"]["data"].get("sent_at")
                if isinstance(sent_at, int | float):
                    receipts.latencies_ms.append((received - sent_at) * 1000)
    except Exception as error:  # a dropped socket is counted, not raised
        receipts.unexpected_closes.append(f"{type(error).__name__}: {error}")


def _stop_requested(loop: asyncio.AbstractEventLoop) -> asyncio.Event:
    stop = asyncio.Event()

    def wait_for_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    return stop


async def clients_run(spec: dict[str, Any]) -> None:
    with open(spec["tokens_file"]) as tokens_file:
        tokens = [token for _, token in json.load(tokens_file)]
    receipts = Receipts()
    stop = _stop_requested(asyncio.get_running_loop())
    limit = asyncio.Semaphore(spec.get("connect_concurrency", 100))
    started = time.monotonic()
    sockets = await asyncio.gather(*(_open(spec["address"], token, limit, receipts) for token in tokens))
    sockets = [socket for socket in sockets if socket is not None]
    print(
        json.dumps(
            {
                "sockets": len(tokens),
                "connected": receipts.connected,
                "connection_errors": len(receipts.connect_errors),
                "first_errors": sorted(set(receipts.connect_errors))[:5],
                "connect_seconds": round(time.monotonic() - started, 2),
            }
        ),
        flush=True,
    )
    readers = [asyncio.create_task(_read(socket, receipts)) for socket in sockets]
    await stop.wait()
    closes = len(receipts.unexpected_closes)
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    print(
        json.dumps(
            {
                "latencies_ms": [round(latency, 1) for latency in receipts.latencies_ms],
                "unexpected_closes": closes,
                "first_close_reasons": sorted(set(receipts.unexpected_closes))[:5],
            }
        ),
        flush=True,
    )


def main(argv: list[str]) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(clients_run(json.loads(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
