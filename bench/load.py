"""Open-loop HTTP load: `python -m bench.load SPEC_JSON`, a process of its own.

POSTs notification requests at a fixed offered rate, whatever the server's answers do, so a
slow server meets a growing queue instead of a politely waiting client (no coordinated
omission). Latency counts from the moment a request was due, not from when it went out.
Each body names one recipient, in turn from the spec's list, and carries in its data the
due time as epoch seconds (`sent_at`), for scenarios that time the message to its end.

The spec: {"url", "authorization", "category", "recipients", "rate", "seconds",
"warmup_seconds"}. Prints one JSON line with the figures for the requests after the warm-up.
A minimal HTTP/1.1 client on asyncio streams keeps the generator's own cost low, next to the
server it loads on the same machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUEST_TIMEOUT_SECONDS = 10.0  # an answer later than this counts as an error
# Requests in flight at most; past it, due requests wait (and their latency shows it).
MAX_CONNECTIONS = 512
# A connection idle longer is not reused: uvicorn closes keep-alive connections after 5 s.
IDLE_SECONDS = 2.0


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else None


@dataclass
class Figures:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    first_due: float | None = None
    last_done: float = 0.0


class Connections:
    """Idle keep-alive connections to one server, opened as the load needs them, the most
    recently used first."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.in_flight = asyncio.Semaphore(MAX_CONNECTIONS)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._idle and time.monotonic() - self._idle[-1][2] > IDLE_SECONDS:
            self.close()  # the server may be closing them: all older ones are older still
        if self._idle:
            reader, writer, _ = self._idle.pop()
            return reader, writer
        return await asyncio.open_connection(self.host, self.port)

    def give_back(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self._idle.append((*connection, time.monotonic()))

    def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle = []


async def _response_status(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns its status and whether the server keeps the connection."""
    status = int((await reader.readline()).split()[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            keep = value != "close"
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status, keep


def _request_bytes(target: Any, spec: dict[str, Any], index: int, due_epoch: float) -> bytes:
    recipients = spec["recipients"]
    body = json.dumps(
        {
            "category": spec["category"],
            "recipients": [recipients[index % len(recipients)]],
            "data": {"n": index, "sent_at": due_epoch},
        }
    ).encode()
    head = (
        f"POST {target.path or '/'} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"Authorization: {spec['authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _one(connections: Connections, payload: bytes, due: float, counted: bool, figures: Figures) -> None:
    async with connections.in_flight:
        await _exchange(connections, payload, due, counted, figures)


async def _exchange(connections: Connections, payload: bytes, due: float, counted: bool, figures: Figures) -> None:
    connection = None
    try:
        connection = await asyncio.wait_for(connections.take(), REQUEST_TIMEOUT_SECONDS)
        reader, writer = connection
        writer.write(payload)
        status, keep = await asyncio.wait_for(_response_status(reader), REQUEST_TIMEOUT_SECONDS)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
        if connection is not None:
            connection[1].close()
        if counted:
            figures.errors.append(f"{type(error).__name__}: {error}")
        return
    done = time.monotonic()
    if keep:
        connections.give_back(connection)
    else:
        connection[1].close()
    if counted:
        figures.statuses[str(status)] = figures.statuses.get(str(status), 0) + 1
        figures.last_done = max(figures.last_done, done)
        if 200 <= status < 300:
            figures.latencies_ms.append((done - due) * 1000)
        else:
            figures.errors.append(f"HTTP {status}")


async def load_run(spec: dict[str, Any]) -> Figures:
    target = urlsplit(spec["url"])
    connections = Connections(target.hostname, target.port or 80)
    figures = Figures()
    interval = 1 / spec["rate"]
    total = round(spec["rate"] * (spec["seconds"] + spec.get("warmup_seconds", 0)))
    warmup = round(spec["rate"] * spec.get("warmup_seconds", 0))
    start_monotonic = time.monotonic() + 0.05
    start_epoch = time.time() + 0.05
    tasks = []
    for index in range(total):
        due = start_monotonic + index * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        counted = index >= warmup
        if counted and figures.first_due is None:
            figures.first_due = due
        payload = _request_bytes(target, spec, index, start_epoch + index * interval)
        tasks.append(asyncio.create_task(_one(connections, payload, due, counted, figures)))
    await asyncio.gather(*tasks)
    connections.close()
    return figures


def figures_summary(spec: dict[str, Any], figures: Figures) -> dict[str, Any]:
    latencies = figures.latencies_ms
    span = figures.last_done - figures.first_due if figures.first_due is not None else 0
    return {
        "offered_rate": spec["rate"],
        "requests": len(latencies) + len(figures.errors),
        "ok": len(latencies),
        "errors": len(figures.errors),
        "first_errors": sorted(set(figures.errors))[:5],
        "statuses": figures.statuses,
        "achieved_rate": round(len(latencies) / span, 1) if span > 0 else None,
        "p50_ms": _rounded(percentile(latencies, 0.50)),
        "p99_ms": _rounded(percentile(latencies, 0.99)),
        "max_ms": _rounded(max(latencies) if latencies else None),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    figures = asyncio.run(load_run(spec))
    print(json.dumps(figures_summary(spec, figures)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
