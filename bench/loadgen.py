"""A small HTTP/1.1 load generator: fixed-rate (open loop) runs, and a closed-loop fallback.

wrk drives the closed-loop runs when it is installed; this module is used for

- the fixed-rate runs (500 req/s): wrk2 is not in Debian, and plain wrk cannot hold a rate.
  Request i is due at ``start + i / rate`` whatever happened before it, and its latency is
  counted from that due time, not from when it was sent, so a slow answer that delays the
  next request shows up in the figures instead of being hidden (coordinated omission);
- the closed-loop runs when wrk is missing (``run_closed``), with the same connection count
  spread over one process per core so that the client is not held back by one GIL.

Only loopback addresses are accepted: the benchmarks never send traffic anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

BodyFn = Callable[[int], bytes | None]
HEADER_END = b"\r\n\r\n"
CONNECT_TIMEOUT = 5.0
ANSWER_TIMEOUT = 10.0


@dataclass
class Sample:
    """What one run measured: latencies in seconds, and how many answers were not 2xx/3xx."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) by nearest rank, in seconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    def merge(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds = max(self.seconds, other.seconds)
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count


@dataclass(frozen=True)
class Request:
    """One kind of request: method, full URL, headers, and a body per request number."""

    method: str
    url: str
    headers: dict[str, str]
    body: BodyFn | None = None

    def encode(self, number: int) -> bytes:
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        body = self.body(number) if self.body else None
        lines = [f"{self.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"benchmarks only talk to loopback addresses, not {host}")
        return host, parts.port or 80


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one whole answer off a keep-alive connection; its status."""
    head = await reader.readuntil(HEADER_END)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    return status


async def _open(request: Request) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = request.address
    return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)


def _record(sample: Sample, status: int, latency: float) -> None:
    sample.latencies.append(latency)
    sample.statuses[status] = sample.statuses.get(status, 0) + 1
    if status >= 400:
        sample.errors += 1


# -- fixed rate (open loop) --------------------------------------------------------------------


async def _fixed_rate(request: Request, rate: float, seconds: float, connections: int) -> Sample:
    sample = Sample()
    total = int(rate * seconds)
    next_number = iter(range(total))
    start = time.perf_counter() + 0.05

    async def connection() -> None:
        reader, writer = await _open(request)
        try:
            for number in next_number:  # shared: each request is taken by one connection
                due = start + number / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request.encode(number))
                status = await asyncio.wait_for(_read_answer(reader), ANSWER_TIMEOUT)
                _record(sample, status, time.perf_counter() - due)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    sample.seconds = time.perf_counter() - start
    return sample


def run_fixed_rate(
    request: Request, rate: float = 500, seconds: float = 10, connections: int = 16
) -> Sample:
    """Send `rate` requests per second for `seconds`; latency counted from each due time."""
    return asyncio.run(_fixed_rate(request, rate, seconds, connections))


# -- closed loop (wrk's model, for when wrk is missing) ------------------------------------------


async def _closed(request: Request, seconds: float, connections: int, offset: int) -> Sample:
    sample = Sample()
    start = time.perf_counter()
    stop = start + seconds
    counter = iter(range(offset, offset + 10**9))

    async def connection() -> None:
        reader, writer = await _open(request)
        try:
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                writer.write(request.encode(next(counter)))
                status = await asyncio.wait_for(_read_answer(reader), ANSWER_TIMEOUT)
                _record(sample, status, time.perf_counter() - sent)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    sample.seconds = time.perf_counter() - start
    return sample


def _closed_worker(args: tuple[Request, float, int, int]) -> Sample:
    return asyncio.run(_closed(*args))


def run_closed(
    request: Request, seconds: float = 10, connections: int = 32, processes: int = 2
) -> Sample:
    """As many requests as `connections` keep-alive connections can get answered."""
    share = [connections // processes + (i < connections % processes) for i in range(processes)]
    jobs = [(request, seconds, n, i * 10**9) for i, n in enumerate(share)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_closed_worker, jobs)
    total = Sample()
    for part in parts:
        total.merge(part)
    return total
