"""The AWS engine (moto, as ``local.engine`` runs it) in a process of its own, for ``python -m local``.

In one process the served stack is one interpreter: HTTP, the service's own Python, botocore and
moto all take turns on one core while the machine's other core idles (measured under the bench:
the server at 100% of a core, the bench client at 6%). Here the engine runs in a child process,
and each AWS call of the service crosses to it whole: botocore's ``before-send`` hook hands the
prepared request (method, URL, headers, body) over a local connection, the child answers it with
moto's own request handling (``BotocoreStubber.process_request``, behind the engine lock as in
``local.engine``), and the answer comes back as the HTTP response botocore parses. So the service
builds and parses every call as before, moto sees the same requests, and each call is still atomic;
only the work is split between two cores. A call borrows one of a pool of connections; the child
serves each connection on a thread of its own and stops when its parent is gone.

The tests run the engine in-process (``local.engine``): they read and change its state directly.
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess  # our own module, fixed arguments  # nosec B404
import sys
import threading
from multiprocessing import Pipe
from multiprocessing.connection import Client, Connection, Listener, wait
from typing import Any


class EngineProcess:
    """The child process and the service side of its connections (``engine.start()``'s stand-in:
    ``stop()`` ends it)."""

    def __init__(self) -> None:
        authkey = secrets.token_hex(16)
        self.proc = subprocess.Popen(  # fixed arguments, no shell  # nosec B603
            [sys.executable, "-m", "local.apart"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # pipes  # nosec B101
        self.proc.stdin.write(authkey + "\n")
        self.proc.stdin.flush()
        ready = self.proc.stdout.readline().split()
        if len(ready) != 3 or ready[0] != "engine":
            self.proc.kill()
            raise RuntimeError("the AWS engine's process did not start")
        self._address = ("127.0.0.1", int(ready[1]))
        self.speedups = ready[2] == "on"  # whether the child runs them (``local.speedups``)
        self._authkey = authkey.encode()
        # Connections not in use: a call takes one (or opens one) and gives it back, so there are
        # never more than the calls made at once.
        self._idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._all: list[Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            conn = Client(self._address, authkey=self._authkey)
            with self._lock:
                self._all.append(conn)
            return conn

    def __call__(self, event_name: str, request: Any, **kwargs: Any) -> Any:
        """botocore's ``before-send``: the request answered by the engine's process."""
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        conn = self._conn()
        try:
            conn.send((request.method, request.url, list(request.headers.items()), body))
            answer = conn.recv()
        except BaseException:
            conn.close()  # what is left on it is unknown: never used again
            raise
        self._idle.put(conn)
        if answer[0] != "ok":
            raise RuntimeError(f"the AWS engine failed on this call: {answer[1]}")
        _, status, headers, content = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(content))

    def stop(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        if ("before-send", self) in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.remove(("before-send", self))
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start() -> EngineProcess:
    """Start the engine's process and send every botocore client made from now on to it.

    Raises RuntimeError when the process does not start, or ``LOCAL_ENGINE_SPEEDUPS`` is neither on nor off."""
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    from local import speedups
    from local.credentials import fake_credentials

    fake_credentials()
    # The service's side of the speed-ups (no signature, a fixed User-Agent, counted invocation IDs):
    # its calls all go to the engine's process, which reads the same setting.
    if speedups.wanted():
        speedups.install_client()
    else:
        speedups.uninstall()
    # Threads waiting on the engine's answers take the interpreter lock back sooner (5 ms by default:
    # a request's several calls each waited for it behind the 64 request threads).
    sys.setswitchinterval(0.001)
    child = EngineProcess()
    BUILTIN_HANDLERS.append(("before-send", child))
    boto3.setup_default_session()  # a session made earlier would not have the hook
    return child


def _answer(conn: Connection) -> bool:
    """One call from ``conn``, answered; False when the connection is gone."""
    from botocore.awsrequest import AWSPreparedRequest, HTTPHeaders
    from moto.core.models import botocore_stubber

    try:
        method, url, header_items, body = conn.recv()
    except (EOFError, OSError):
        return False
    headers = HTTPHeaders()
    for key, value in header_items:
        headers[key] = value
    request = AWSPreparedRequest(method=method, url=url, headers=headers, body=body, stream_output=False)
    try:
        answered = botocore_stubber.process_request(request)
        if answered is None:
            raise LookupError(f"no engine for {method} {url.split('?')[0]}")
        status, answer_headers, content = answered
        reply: tuple[Any, ...] = ("ok", status, dict(answer_headers), content)
    except Exception as exc:  # noqa: BLE001 - the service side raises it as the call's error
        reply = ("error", type(exc).__name__)
    try:
        conn.send(reply)
    except (EOFError, OSError):
        return False
    return True


def _accept(listener: Listener, joined: list[Connection], wake: Connection) -> None:
    while True:
        try:
            conn = listener.accept()
        except (OSError, EOFError):
            continue  # a connection that failed its handshake
        joined.append(conn)
        wake.send_bytes(b"")


def _watch_parent(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _serve() -> None:
    import signal

    from local import engine, heap, speedups

    authkey = sys.stdin.readline().strip().encode()
    engine.start()
    heap.install()  # the engine's tables, walked by one full collection each (local.heap)
    listener = Listener(("127.0.0.1", 0), backlog=512, authkey=authkey)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    print("engine", listener.address[1], "on" if speedups.installed() else "off", flush=True)
    # One thread answers every connection in turn (the engine serves one call at a time anyway), so
    # no two threads of this process wait on each other for the interpreter lock; another thread
    # only accepts connections and wakes it.
    woken, wake = Pipe(duplex=False)
    joined: list[Connection] = []
    threading.Thread(target=_accept, args=(listener, joined, wake), daemon=True).start()
    conns: list[Any] = []
    while True:
        for ready in wait([woken, *conns]):
            if ready is woken:
                woken.recv_bytes()
                while joined:
                    conns.append(joined.pop())
            elif not _answer(ready):
                conns.remove(ready)


if __name__ == "__main__":
    _serve()
