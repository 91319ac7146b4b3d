"""``python -m local``: serve the whole service on http://127.0.0.1:$PORT until SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from local import heap
from local.stack import LocalStack


def main() -> int:
    stack = LocalStack(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        stand_ins_apart=True,
        # LOCAL_ENGINE=in-process keeps moto in this process (one core for everything).
        engine_apart=os.environ.get("LOCAL_ENGINE", "apart") != "in-process",
    )
    try:
        stack.start()
    except RuntimeError as exc:
        stack.close()
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        return 2
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=stack.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    heap.install()  # what the stack's start made, walked by one full collection (local.heap)
    print(f"Serving on {stack.url}", flush=True)
    print(f"  {stack.engine_banner}", flush=True)
    print(f"  pages: {stack.url}/ (public), /counter/, /site/, /admin/ (staff: paste a token)", flush=True)
    print("  staff token: make token ROLE=admin LABEL=me (ROLE: counter, site, org, admin)", flush=True)
    for name, stand_in in stack.registries.items():
        print(f"  {name} stand-in on {stand_in.url} (faults: POST {stand_in.url}/_control)", flush=True)
    print(f"  sms gateway stand-in on {stack.sms.url} (sent: GET {stack.sms.url}/_messages)", flush=True)
    try:
        stack.serve_forever()
    finally:
        stack.close()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
