"""``python -m local``: serve the whole service on http://127.0.0.1:$PORT until SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType


def main() -> int:
    from local import engine

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    os.environ.setdefault("KKREG_STAGE", "local")
    mock = engine.start()

    from infra import stack

    region = os.environ["AWS_DEFAULT_REGION"]
    os.environ.update(stack.environment(stack.create("local", region), "local"))

    from chalice.local import LocalChalice

    from app import app
    from chalicelib.store import factory
    from local.driver import BackgroundWorkers
    from local.server import make_server

    factory.reset()
    app.__class__ = LocalChalice  # current_request per thread, as `chalice local` does
    server = make_server(app, host, port)
    workers = BackgroundWorkers(app, region)
    workers.start()
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Serving on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        workers.stop()
        server.server_close()
        mock.stop()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
