"""``make api-fuzz``: Schemathesis against the whole local stack, as a client generated from the
OpenAPI document would call it. Every check, every operation, an admin token, the stateful phase
following the document's links; phone verification off (see ``start_stack``).

It starts ``python -m local`` on a free port, issues an admin token through the local stack's
operator API, runs Schemathesis from its own venv, and stops the stack. The exit status is
Schemathesis'.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess  # nosec B404 - runs this repository's own stack and Schemathesis
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
MAX_EXAMPLES = os.environ.get("API_FUZZ_EXAMPLES", "60")
# `make test` replays one fixed seed, so that CI fails only when the service or its document
# changes; API_FUZZ_SEED=random (as `make test-full` sets) explores new cases each run.
SEED = os.environ.get("API_FUZZ_SEED", "20261130")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stack(port: int) -> tuple[subprocess.Popen[str], str]:
    # Phone verification off: a generated registration has no way to a real token (its code goes by
    # SMS), so with it on every one would be a 422 and the stateful phase would never reach a
    # registration's read, look-up, receipt and cancel. The token's own rules have their tests.
    # The waiting room off for the same reason: an admission comes only from serving reaching a
    # ticket; with it on every generated registration would be a 403 (its suites test it).
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PHONE_VERIFICATION": "off",
        "WAITING_ROOM": "off",
    }
    stack = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    for line in stack.stdout or ():
        if line.startswith("Serving on "):
            return stack, line.split()[-1]
    stack.wait()
    raise SystemExit(f"api-fuzz: the local stack did not start (exit {stack.returncode})")


def admin_token(url: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL this script made
        f"{url}/_local/tokens",
        data=json.dumps({"role": "admin", "label": "schemathesis"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310  # nosec B310
        return str(json.load(resp)["token"])


def main() -> int:
    stack, url = start_stack(free_port())
    try:
        token = admin_token(url)
        command = [
            str(SCHEMATHESIS),
            "run",
            f"{url}/v1/openapi.json",
            "--url",
            url,
            "--max-examples",
            MAX_EXAMPLES,
            "--header",
            f"Authorization: Bearer {token}",
            "--generation-database",
            "none",
            *([] if SEED == "random" else ["--seed", SEED]),
            *sys.argv[1:],
        ]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks", "PYTHONPATH": str(ROOT)}
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode  # noqa: S603  # nosec B603
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.communicate()


if __name__ == "__main__":
    sys.exit(main())
