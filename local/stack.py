"""The local stack as an object: engine, resources, HTTP server and background workers.

``python -m local`` serves it until a signal; the race tests and the benchmark start it
in-process on a free port.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from local import engine, speedups

REGION = "ap-southeast-1"


class LocalStack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        stage: str = "local",
        workers: bool = True,
        stand_ins_apart: bool = False,
        engine_apart: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.stage = stage
        self._with_workers = workers
        # The registry stand-ins in a child process (``python -m local``); in-process for the tests,
        # which read and change their state directly.
        self._stand_ins_apart = stand_ins_apart
        # The AWS engine in a child process too (``local.apart``: ``python -m local``); in-process for
        # the tests, which read and change the engine's state directly.
        self._engine_apart = engine_apart
        self._stand_in_process: Any = None
        self._mock: Any = None
        self.server: Any = None
        self.workers: Any = None
        self._thread: threading.Thread | None = None
        self.registries: dict[str, Any] = {}
        self.sms: Any = None
        self._own_public_url = False
        # Which engine runs: "engine speed-ups on (moto 5.2.5)" or "engine speed-ups off: plain moto ...".
        self.engine_banner = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> LocalStack:
        os.environ.setdefault("KKREG_STAGE", "local")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        # One line per registration would cost a burst its speed: warnings and errors only, unless asked.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        # One index key a second for the waiting room's joins: the engine walks the whole queue table
        # for each index query (~0.1 s at 25,000 tickets), and a local stack never sees the 250 joins
        # a second a key takes on AWS (where 16 keys start the opening: QUEUE_SHARDS' default).
        os.environ.setdefault("QUEUE_SHARDS", "1")
        if self._engine_apart:
            from local import apart

            self._mock = apart.start()
            self.engine_banner = speedups.banner(self._mock.speedups)
        else:
            self._mock = engine.start()
            self.engine_banner = speedups.banner(speedups.installed())
        if os.environ.get("LOCAL_METER") == "1":
            from local import meter

            meter.install()

        from local import headers, registries

        headers.install()  # this process's HTTP headers parsed without the email package
        if self._stand_ins_apart:
            self._stand_in_process, self.registries = registries.start_both_in_a_process()
        else:
            self.registries = registries.start_both()
        from local.sms import SmsStandIn

        self.sms = SmsStandIn().start()
        from chalicelib.config import get_settings

        get_settings.cache_clear()
        get_settings()  # a schedule (or any setting) that makes no sense stops the start here

        from infra import stack

        os.environ.update(stack.environment(stack.create(self.stage, REGION), self.stage))

        from chalice.local import LocalChalice

        from app import app
        from chalicelib.caches import reset_caches
        from local.driver import BackgroundWorkers
        from local.server import make_server

        reset_caches()
        app.__class__ = LocalChalice  # current_request per thread, as `chalice local` does
        settings = get_settings()
        self.server = make_server(
            app, self.host, self.port, settings.edge_rate_limit_per_5min, settings.edge_verification_limit_per_5min
        )
        if os.environ.get("PUBLIC_PAGE_URL") is None:
            # The appointment SMS links to this stack's public page (which shows the receipt QR code).
            os.environ["PUBLIC_PAGE_URL"] = self.url
            self._own_public_url = True
            get_settings.cache_clear()
        self.workers = BackgroundWorkers(app, REGION)
        if self._with_workers:
            self.workers.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def serve_in_background(self) -> LocalStack:
        self._thread = threading.Thread(target=self.serve_forever, name="local-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting requests (call from another thread than ``serve_forever``)."""
        self.server.shutdown()

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=10)
        if self.workers is not None and self.workers.is_alive():
            self.workers.stop()
        if self.server is not None:
            self.server.server_close()
        for stand_in in [*self.registries.values(), self.sms, self._stand_in_process]:
            if stand_in is not None:
                stand_in.stop()
        if self._mock is not None:
            self._mock.stop()
        if self._own_public_url:
            os.environ.pop("PUBLIC_PAGE_URL", None)
            self._own_public_url = False

    def __enter__(self) -> LocalStack:
        return self.start().serve_in_background()

    def __exit__(self, *exc: object) -> None:
        self.close()
