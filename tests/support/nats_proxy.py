"""A NATS server that reads but does not pass on, for tests: a TCP proxy in front of a
real nats-server that forwards both ways, until told to `swallow()`. Then it reads what the
client publishes and drops it, and answers the client's pings itself, as a server would
that dies with the messages it read still unsent to its cluster. `cut()` then closes the
client's connections, as that server's death does, and forwards again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

PUBLISHES = (b"PUB", b"HPUB")


class SwallowingProxy:
    """127.0.0.1:`port` in front of the server at `upstream_port`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.swallowing = False
        self.swallowed = 0  # publications dropped
        self._writers: list[asyncio.StreamWriter] = []
        self._loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()

    def _run(self, sock: socket.socket) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._client, sock=sock))
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def swallow(self) -> None:
        self.swallowing = True

    def cut(self) -> None:
        """Close every client's connection (and its upstream), then forward again."""
        done = threading.Event()

        def close() -> None:
            for writer in self._writers:
                writer.close()
            self._writers.clear()
            self.swallowing = False
            done.set()
        self._loop.call_soon_threadsafe(close)
        done.wait(2)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]
        back = asyncio.create_task(self._pipe(up_reader, writer))
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            while line := await reader.readline():
                words = line.split()
                body = b""
                if words and words[0].upper() in PUBLISHES:
                    body = await reader.readexactly(int(words[-1]) + 2)
                if self.swallowing and words and words[0].upper() == b"PING":
                    writer.write(b"PONG\r\n")
                elif self.swallowing and body:
                    self.swallowed += 1
                else:
                    up_writer.write(line + body)
        back.cancel()
        writer.close()
        up_writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
        writer.close()
