"""The floor of the fixed-rate figures: a server that does nothing but send fixed bytes.

`python -m bench.floor PORT SIZE SECONDS` answers every request on a keep-alive connection
with SIZE bytes of JSON, for SECONDS at most. Measured with the same client at the same rate,
its latency is what the machine and the client cost before any server does any work.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


def answer(size: int) -> bytes:
    body = b'{"pad":"' + b"x" * max(size - 10, 0) + b'"}'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    return head % len(body) + body


async def serve(port: int, size: int, seconds: float) -> None:
    reply = answer(size)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":", 1)[1]))
                writer.write(reply)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await asyncio.sleep(seconds)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
