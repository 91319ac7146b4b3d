"""The served stack under test: ``python -m local`` (what ``make run`` serves) on a free port, in a
process of its own, and what the bench reads from it (admin summary, meter, full CSV read)."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.workload import Plan

ROOT = Path(__file__).resolve().parents[1]


def _cpu_of(pid: int) -> float:
    """User + system CPU a process has used so far (Linux: /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Server:
    """``python -m local`` on a free port, with the campaign's capacities (and ``settings``, the
    waiting room's: ``line.Opening.settings``)."""

    def __init__(self, plan: Plan, settings: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            "PORT": "0",
            "CAMPAIGN_PRIMARY_CAPACITY": str(plan.primary),
            "CAMPAIGN_RESERVE_CAPACITY": str(plan.reserve),
            "PHONE_VERIFICATION": "required",
            "PYTHONUNBUFFERED": "1",
            # The server counts the AWS requests of each registration path and of the background.
            "LOCAL_METER": "1",
            **(settings or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = ""
        self.output: list[str] = []
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("Serving on "):
                self.url = line.split()[-1]
                break
        if not self.url:
            raise RuntimeError("the local stack did not start:\n" + "".join(self.output))
        threading.Thread(target=self._drain_output, daemon=True).start()
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def sms_gateway(self) -> tuple[str, int]:
        """(host, port) of the SMS gateway stand-in, as `make run` prints it."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in list(self.output):
                if "sms gateway stand-in on " in line:
                    parts = urlsplit(line.split(" on ", 1)[1].split()[0])
                    return parts.hostname or "127.0.0.1", parts.port or 80
            time.sleep(0.1)
        raise RuntimeError("the local stack did not say where its SMS gateway stand-in is")

    def _drain_output(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory (Linux: VmHWM)."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far (Linux: /proc/<pid>/stat)."""
        return _cpu_of(self.proc.pid)

    def engine_cpu_seconds(self) -> float:
        """The same for the server's AWS engine process (``local.apart``), 0 when it runs in-process."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid and b"local.apart" in cmdline:
                return _cpu_of(int(entry.name))
        return 0.0

    def stop(self) -> int:
        """Stop the stack; its exit code. ``BENCH_SERVER_LOG=<path>``: its output is written there."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if os.environ.get("BENCH_SERVER_LOG"):
            Path(os.environ["BENCH_SERVER_LOG"]).write_text("".join(self.output), encoding="utf-8")
        return code

    def call(self, method: str, path: str, payload: Any = None, token: str | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=None if payload is None else json.dumps(payload), headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def admin_token(self) -> str:
        status, raw = self.call("POST", "/_local/tokens", {"role": "admin", "label": "bench"})
        if status != 201:
            raise RuntimeError(f"could not issue an admin token: {status} {raw[:200]!r}")
        return str(json.loads(raw)["token"])

    def summary(self, token: str) -> dict[str, Any]:
        status, raw = self.call("GET", "/v1/admin/summary", token=token)
        if status != 200:
            raise RuntimeError(f"admin summary answered {status}")
        return dict(json.loads(raw))

    def meter(self) -> dict[str, Any]:
        status, raw = self.call("GET", "/_local/meter")
        return dict(json.loads(raw)) if status == 200 else {}

    def meter_phase(self, name: str) -> None:
        """Count the partition keys written from now on in a table of their own, called ``name``."""
        self.call("POST", "/_local/meter", {"phase": name})

    def bare_puts(self) -> float:
        status, raw = self.call("POST", "/_local/bare-puts", {"n": 2000})
        return float(json.loads(raw)["puts_per_s"]) if status == 200 else float("nan")

    def full_read(self, token: str) -> list[dict[str, str]]:
        """Every registration, through the admin CSV export, page by page."""
        rows: list[dict[str, str]] = []
        path = "/v1/admin/registrations.csv"
        header: list[str] | None = None
        while path:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                resp = conn.getresponse()
                text = resp.read().decode("utf-8-sig")
                if resp.status != 200:
                    raise RuntimeError(f"CSV export answered {resp.status}")
                link = resp.getheader("Link") or ""
            finally:
                conn.close()
            reader = csv.reader(io.StringIO(text))
            if header is None:
                header = next(reader)
            rows.extend(dict(zip(header, r, strict=True)) for r in reader if r)
            path = link[link.index("<") + 1 : link.index(">")] if link else ""
        return rows
