"""The households going through the waiting room over HTTP, as their pages would (``phases.through_line``).

Every household (one phone, its people's attempts) joins ``POST /v1/queue`` at its moment
(``line.join_times``), reads its own ticket (``GET /v1/queue/{ticket}``) only to learn its position
and, once ``serving`` has reached it, to get its admission token; in between its page watches the
shared ``GET /v1/queue``. That shared answer is cacheable, and is answered here as API Gateway's or
CloudFront's cache would: one request to the service per ``max-age`` (``Cache-Control``), whatever
the number of pages; each page's own polls of it (every ``poll_after_s``) are counted, not sent.
Once admitted, the household sends its attempts one after another with both tokens. Client threads
(one keep-alive connection each) take the requests in the order they fall due (``Agenda``): the pages'
joins and reads on PAGE_CLIENTS threads, the registrations on ``clients`` others, so the pages' timing
is kept as long as the service keeps up.
"""

from __future__ import annotations

import heapq
import json
import math
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import line
from bench.clients import Answer, Connection, Outcomes
from bench.figures import percentile
from bench.people import body
from bench.server import Server
from bench.workload import Attempt, Household, admitted_body

# The pages' own requests (joins, ticket reads) go out on this many client threads of their own: they
# are other people's phones than the ones registering, and a page waiting behind the registrations of
# the ``clients`` threads would learn its place late. The registrations keep their ``clients``.
PAGE_CLIENTS = 32
# A request that did not get through (connection lost, 429) is asked again, at most this many times.
RETRIES = 5
# No request done and no new ``serving`` for this long: the line is stuck; the phase ends and says so.
STALL_S = 120.0
# Once every household is done, the shared status is watched this long more for ``full``.
FULL_WAIT_S = 30.0
# The probes sent at the first admission (their people are nobody else's).
PROBE_PERSON = 70_000_000
_MAX_AGE = re.compile(r"max-age=(\d+(?:\.\d+)?)")
DONE_OUTCOMES = ("registered", "full", "saw_full", "refused_full")


@dataclass
class Page:
    """One household's page and what it went through (wall-clock times; nan: not yet)."""

    household: Household
    token: str  # the phone's verification token
    join_at: float
    spread: float  # the page's own draw: its first read after the opening
    joined_sent: float = math.nan
    joined_answered: float = math.nan
    ticket: str | None = None
    position: int | None = None
    position_changed: bool = False
    reads: int = 0  # its own ticket, asked
    polls: int = 0  # the shared status, asked by the page (the cache answers)
    since: float = 0.0  # waiting for serving: polling from this moment, every ``period`` s
    period: float = 0.0
    admitted_at: float = math.nan
    admission_token: str | None = None
    outcome: str = ""  # "" while in the line; DONE_OUTCOMES or what went wrong
    retries: int = 0
    sent: int = 0  # of its attempts, sent


class Agenda:
    """Tasks due at given moments, handed to the client threads earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, tuple[Any, ...]]] = []
        self._cond = threading.Condition()
        self._seq = 0
        self._closed = False

    def put(self, at: float, task: tuple[Any, ...]) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, task))
            self._cond.notify()

    def take(self) -> tuple[Any, ...] | None:
        """The next task once due; None once closed."""
        with self._cond:
            while not self._closed:
                if self._heap:
                    wait = self._heap[0][0] - time.time()
                    if wait <= 0:
                        return heapq.heappop(self._heap)[2]
                    self._cond.wait(min(wait, 1.0))
                else:
                    self._cond.wait(1.0)
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class Requests:
    """Every line request and registration as the clients saw it, by kind (join, ticket, status,
    registration, probe)."""

    latency: dict[str, list[float]] = field(default_factory=dict)
    status: dict[str, Counter[int]] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)
    no_envelope: int = 0
    # (sent, answered, position, status) of every ticket answer with a position.
    reads: list[tuple[float, float, int, str]] = field(default_factory=list)
    # (sent, answered, serving, status) of every answer of the shared status from the service.
    polls: list[tuple[float, float, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, answer: Answer) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(answer.latency)
            self.status.setdefault(kind, Counter())[answer.status] += 1
            if answer.code:
                self.codes[f"{kind}:{answer.code}"] += 1
            self.no_envelope += not answer.enveloped


class Line:
    """The waiting room's phase for one campaign (``start``, then ``stop`` once ``done``); what the pages
    saw stays here for the checks (``Seen``) and the figures (``figures``)."""

    def __init__(
        self,
        server: Server,
        attempts: list[Attempt],
        households: list[Household],
        tokens: dict[str, str],
        opening: line.Opening,
        clients: int,
    ) -> None:
        self.server = server
        self.attempts = attempts
        self.opening = opening
        self.opens_at = float(opening.opens_at)
        self.clients = clients
        rng = random.Random(11)
        prequeue = line.prequeue_count(len(households))
        times = line.join_times(prequeue, len(households) - prequeue, time.time(), opening)
        self.pages = [
            Page(h, tokens.get(h.phone, "not verified"), at, rng.random())
            for h, at in zip(households, times, strict=True)
        ]
        self.prequeue_planned = prequeue
        self.out = Outcomes()  # the registrations, as the burst's (``done_at`` from the opening)
        self.requests = Requests()
        self.probes: list[dict[str, Any]] = []
        self.agenda = Agenda()  # registrations and probes, for the ``clients`` threads
        self.page_agenda = Agenda()  # the pages' joins and reads, for PAGE_CLIENTS threads
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, int]] = []  # (position, page) whose page watches serving
        self._open = len(self.pages)  # pages not done, and probes not sent
        self._probed = False
        self.done = threading.Event()  # every household done (or the phase stopped)
        self._stopping = threading.Event()  # the shared cache stops asking
        self.admin_put_status = 0
        self.admit_per_minute = opening.admit_per_minute  # the pace the admin set last
        self.paces: list[dict[str, Any]] = []  # the admin's changes of it after the opening
        self.progress = 0  # tasks done, and serving's changes
        self.serving = 0
        self.status = ""
        self.seen_at = 0.0  # when the shared cache got its last answer
        self.max_age: float | None = None
        self.full_at = math.nan
        self.read_after: Counter[str] = Counter()  # what the waiting tickets said after the campaign

    # The phase.

    def start(self) -> list[threading.Thread]:
        """Every household's join on the agenda; the client threads and the shared cache started."""
        for i, page in enumerate(self.pages):
            self.page_agenda.put(page.join_at, ("join", i))
        threads = [threading.Thread(target=self._work, args=(self.agenda,), daemon=True) for _ in range(self.clients)]
        threads += [
            threading.Thread(target=self._work, args=(self.page_agenda,), daemon=True) for _ in range(PAGE_CLIENTS)
        ]
        threads.append(threading.Thread(target=self._watch, daemon=True))
        for th in threads:
            th.start()
        return threads

    def stop(self, threads: list[threading.Thread]) -> None:
        """Wait (at most FULL_WAIT_S) for the shared status to say ``full``, then stop every thread."""
        deadline = time.time() + FULL_WAIT_S
        while self.status not in ("full", "closed") and time.time() < deadline:
            time.sleep(0.5)
        self.agenda.close()
        self.page_agenda.close()
        self.done.set()
        self._stopping.set()
        for th in threads:
            th.join(timeout=130)

    def households_done(self) -> int:
        """Admitted households whose every attempt was answered."""
        return sum(1 for p in self.pages if p.admission_token and p.outcome)

    def in_flight(self) -> int:
        """Admitted households (as far as their pages know) with attempts still to answer."""
        return sum(1 for p in self.pages if p.admission_token and not p.outcome)

    def prequeue_placed(self) -> bool:
        """Every page that joined before the opening knows its position (or is done): until then the
        pre-queue's reads, which the service spreads over ``pre_count / 250`` s, say how fast the
        admitted find out, not how fast the stack serves them."""
        return all(p.position is not None or p.outcome for p in self.pages if p.joined_sent < self.opens_at)

    def stalled(self, since_progress: float) -> bool:
        return since_progress > STALL_S

    def _finish(self, page: Page | None, outcome: str) -> None:
        with self._lock:
            if page is not None:
                if page.outcome:
                    return
                page.outcome = outcome
            self._open -= 1
            if self._open == 0:
                self.done.set()

    def _work(self, agenda: Agenda) -> None:
        conn = Connection(self.server)
        while (task := agenda.take()) is not None:
            page = self.pages[task[1]] if task[0] != "probe" else None
            try:
                if task[0] == "join":
                    self._join(conn, task[1])
                elif task[0] == "read":
                    self._read(conn, task[1])
                elif task[0] == "register":
                    self._register(conn, task[1], task[2])
                else:
                    self._probe(conn, task[1])
            except (KeyError, TypeError, ValueError) as exc:  # an answer of an unexpected shape
                self._finish(page, f"unexpected_answer:{type(exc).__name__}")
            self.progress += 1
        conn.close()

    def _agenda_of(self, task: tuple[Any, ...]) -> Agenda:
        return self.page_agenda if task[0] in ("join", "read") else self.agenda

    def _again(self, page: Page, answer: Answer, task: tuple[Any, ...]) -> bool:
        """Ask again later when the request did not get through (lost connection, 429): True if so."""
        if answer.status not in (0, 429) or page.retries >= RETRIES:
            return False
        page.retries += 1
        try:
            wait = float(answer.headers.get("Retry-After") or 1.0)
        except ValueError:
            wait = 1.0
        self._agenda_of(task).put(time.time() + max(wait, line.MIN_POLL_S), task)
        return True

    def _join(self, conn: Connection, i: int) -> None:
        page = self.pages[i]
        if self.status in ("full", "closed"):
            # A page opened after the line filled reads the shared status and does not join.
            page.polls += 1
            self._finish(page, "saw_full")
            return
        payload = json.dumps({"verification_token": page.token}).encode()
        answer = conn.call("POST", "/v1/queue", payload)
        self.requests.add("join", answer)
        if self._again(page, answer, ("join", i)):
            return
        if answer.status in (200, 201):
            page.joined_sent, page.joined_answered = answer.sent, answer.answered
            page.ticket = str(answer.data["ticket"])
            self._step(i, answer)
        elif answer.code == "registration_full":
            self._finish(page, "refused_full")
        else:
            self._finish(page, f"join_{answer.status}_{answer.code}")

    def _read(self, conn: Connection, i: int) -> None:
        page = self.pages[i]
        answer = conn.call("GET", f"/v1/queue/{page.ticket}")
        self.requests.add("ticket", answer)
        if self._again(page, answer, ("read", i)):
            return
        page.reads += 1
        if answer.status != 200:
            self._finish(page, f"ticket_{answer.status}_{answer.code}")
            return
        self._step(i, answer)

    def _step(self, i: int, answer: Answer) -> None:
        page, data = self.pages[i], answer.data
        position = data.get("position")
        if isinstance(position, int) and not isinstance(position, bool):
            if page.position is not None and page.position != position:
                page.position_changed = True
            page.position = position
            state = "admitted" if data.get("admission_token") else str(data.get("status"))
            with self.requests.lock:
                self.requests.reads.append((answer.sent, answer.answered, position, state))
        step = line.after_answer(data, answer.answered, self.opens_at, page.spread)
        if step.action == "register":
            page.admitted_at, page.admission_token = answer.answered, str(data["admission_token"])
            with self._lock:
                first, self._probed = not self._probed, True
                if first:
                    self._open += 1
            if first:
                self.agenda.put(step.at, ("probe", i))
            self.agenda.put(step.at, ("register", i, 0))
        elif step.action == "read":
            self.page_agenda.put(step.at, ("read", i))
        elif step.action == "wait":
            if page.position is None:  # "waiting" with a position that is not a number
                self._finish(page, "unexpected_answer:position")
                return
            page.since, page.period = step.at, step.period
            with self._lock:
                heapq.heappush(self._waiting, (page.position, i))
            self._wake(self.serving, self.status, self.seen_at)  # serving may have reached it already
        else:
            self._finish(page, step.outcome)

    def _register(self, conn: Connection, i: int, j: int) -> None:
        page = self.pages[i]
        attempt = self.attempts[page.household.attempts[j]]
        payload = admitted_body(attempt.payload, page.token, page.admission_token)
        # A key per attempt, as the public page sends it (a person trying again is a new attempt).
        headers = {"Idempotency-Key": f"bench-{page.household.attempts[j]}-{uuid.uuid4().hex[:12]}"}
        answer = conn.call("POST", "/v1/registrations", payload, headers)
        page.sent += 1
        self.requests.add("registration", answer)
        code = "created" if answer.status == 201 else (answer.code or "no_envelope")
        rids = [str(answer.data["registration_id"])] if answer.status == 201 else []
        self.out.add([(answer.answered - self.opens_at, answer.latency, answer.status, code)], rids)
        if code == "admission_required":
            self._finish(page, "admission_refused")  # the page would send the household back to the line
        elif j + 1 < len(page.household.attempts):
            self.agenda.put(time.time(), ("register", i, j + 1))
        else:
            self._finish(page, "registered")

    # The shared status, through the cache.

    def _watch(self) -> None:
        conn = Connection(self.server)
        while not self._stopping.is_set():
            answer = conn.call("GET", "/v1/queue")
            self.requests.add("status", answer)
            if answer.status == 200:
                serving = answer.data.get("serving")
                serving = serving if isinstance(serving, int) and not isinstance(serving, bool) else 0
                status = str(answer.data.get("status"))
                with self.requests.lock:
                    self.requests.polls.append((answer.sent, answer.answered, serving, status))
                if serving != self.serving or status != self.status:
                    self.progress += 1
                if status in ("full", "closed") and math.isnan(self.full_at):
                    self.full_at = answer.answered
                self.serving, self.status, self.seen_at = serving, status, answer.answered
                self._wake(serving, status, answer.answered)
            found = _MAX_AGE.search(answer.headers.get("Cache-Control", ""))
            self.max_age = float(found.group(1)) if found else None
            # The cache asks again once its copy is stale (no max-age: every second).
            self._stopping.wait(max(0.2, self.max_age if self.max_age is not None else 1.0))
        conn.close()

    def _wake(self, serving: int, status: str, seen_at: float) -> None:
        """Pages whose position ``serving`` reached read their ticket at their next poll of the status;
        once the line is full, every waiting page sees it there and is done."""
        ended = status in ("full", "closed")
        woken: list[tuple[int, float, int]] = []
        with self._lock:
            while self._waiting and (ended or self._waiting[0][0] <= serving):
                _, i = heapq.heappop(self._waiting)
                page = self.pages[i]
                at, polls = line.notice(page.since, page.period, seen_at)
                woken.append((i, at, polls))
        for i, at, polls in woken:
            self.pages[i].polls += polls
            if ended:
                self._finish(self.pages[i], "full")
            else:
                self.page_agenda.put(at, ("read", i))

    # The probes: no registration without an admission, nobody in the line twice.

    def _probe(self, conn: Connection, i: int) -> None:
        """At the first admission (household ``i``'s): registrations without a valid admission token for
        the last household's phone (never admitted yet) must get 403 ``admission_required``; household
        ``i`` joining again must get its own ticket back (200)."""
        admitted, other = self.pages[i], self.pages[-1]
        token = admitted.admission_token or ""
        cases = [
            ("no_admission_token", None),
            ("no_admission_token", None),
            ("forged_admission_token", forged(token)),
            ("forged_admission_token", forged(token)),
            ("another_phones_admission_token", token),
            ("another_phones_admission_token", token),
        ]
        for k, (name, admission) in enumerate(cases):
            person = body(PROBE_PERSON + k, phone=other.household.phone)
            payload = admitted_body(json.dumps(person, ensure_ascii=False).encode(), other.token, admission)
            answer = conn.call("POST", "/v1/registrations", payload, {"Idempotency-Key": uuid.uuid4().hex})
            self.requests.add("probe", answer)
            held = answer.status == 403 and answer.code == "admission_required"
            self.probes.append({"probe": name, "status": answer.status, "code": answer.code, "held": held})
        for _ in range(2):
            answer = conn.call("POST", "/v1/queue", json.dumps({"verification_token": admitted.token}).encode())
            self.requests.add("probe", answer)
            held = answer.status == 200 and answer.data.get("ticket") == admitted.ticket
            self.probes.append({"probe": "join_again", "status": answer.status, "code": answer.code, "held": held})
        self._finish(None, "probed")

    def confirm_full(self, sample: int = 200) -> tuple[int, int]:
        """Read up to ``sample`` tickets of households still waiting when the line stopped (evenly
        spread over them): (read, of which ``full``). Those whose position the final ``serving`` (read
        now: the line stops a moment after ``full`` is shown) reached were admitted before it stopped,
        though their page, seeing ``full`` first, says full as line.js does: they are not among them.
        What each read said: ``read_after``."""
        conn = Connection(self.server)
        final = conn.call("GET", "/v1/queue").data.get("serving")
        last = final if isinstance(final, int) and not isinstance(final, bool) else self.serving
        waiting = [
            p for p in self.pages if p.outcome == "full" and p.ticket and (p.position is None or p.position > last)
        ]
        chosen = waiting[:: max(1, len(waiting) // sample)][:sample]
        for page in chosen:
            answer = conn.call("GET", f"/v1/queue/{page.ticket}")
            self.read_after[str(answer.data.get("status")) if answer.status == 200 else str(answer.status)] += 1
        conn.close()
        return len(chosen), self.read_after["full"]

    @property
    def open_work(self) -> int:
        return self._open


def forged(token: str) -> str:
    """The token with one character in its middle changed (its signature then cannot hold)."""
    if not token:
        return "q_forged"
    k = len(token) // 2
    while k < len(token) - 1 and not (token[k].isalnum() and token[k + 1].isalnum()):
        k += 1
    return token[:k] + ("x" if token[k] != "x" else "y") + token[k + 1 :]


def _latency(values: list[float]) -> dict[str, float]:
    lat = sorted(values)
    return {
        "requests": len(lat),
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] if lat else math.nan) * 1000,
    }


class Seen:
    """What the order checks take from a finished line (``checks.line_checks``)."""

    def __init__(self, run: Line) -> None:
        joined = [p for p in run.pages if p.ticket is not None]
        self.prequeue = [(p.joined_sent, p.position) for p in joined if p.joined_answered < run.opens_at and p.position]
        self.later = [
            (p.joined_sent, p.joined_answered, p.position)
            for p in joined
            if p.joined_sent >= run.opens_at and p.position
        ]
        # Sent before the opening and answered after it: on either side, so judged on neither.
        self.across = sum(1 for p in joined if p.joined_sent < run.opens_at <= p.joined_answered)
        self.tickets = [p.ticket for p in joined]
        self.positions = [p.position for p in joined if p.position is not None]
        self.position_changed = any(p.position_changed for p in joined)
        self.outcomes = Counter(p.outcome for p in run.pages)
        self.admitted_phones = {p.household.phone for p in run.pages if p.admission_token}
        self.admitted_not_registered = sum(1 for p in run.pages if p.admission_token and p.outcome != "registered")


def figures(run: Line, seen: Seen, paths: dict[str, Any]) -> dict[str, Any]:
    """The line's figures: who joined when, how it ended, requests and polls per household, latency by
    request kind, and the AWS requests the line cost per household (from the meter's ``paths``)."""
    phones = len(run.pages)
    joined = [p for p in run.pages if p.ticket is not None]
    waited = [p for p in run.pages if p.since]
    latency = {kind: _latency(v) for kind, v in sorted(run.requests.latency.items())}
    status_requests = sum(run.requests.status.get("status", Counter()).values())
    first_join = min((p.joined_sent for p in joined), default=math.nan)
    registered_at = [t for t, st in zip(run.out.done_at, run.out.status, strict=True) if st == 201]
    _, rho = line.prequeue_shuffled(seen.prequeue)
    return {
        "opens_at": run.opening.settings()["REGISTRATION_OPENS_AT"],
        "admit_per_minute": run.opening.admit_per_minute,
        "paces": run.paces,
        "admin_put_status": run.admin_put_status,
        "households": phones,
        "prequeue_planned": run.prequeue_planned,
        "prequeue_window_s": {"planned": run.opening.prequeue_window_s, "from_first_join": run.opens_at - first_join},
        "arrivals_after_opening_s": run.opening.arrivals_after_s,
        "joined_before_opening": len(seen.prequeue),
        "joined_after_opening": len(seen.later),
        "joins_across_the_opening": seen.across,
        "prequeue_rank_correlation": rho,
        "outcomes": dict(sorted(seen.outcomes.items())),
        "admitted_households": len(seen.admitted_phones),
        "last_serving": run.serving,
        "last_status": run.status,
        "opening_to_full_s": run.full_at - run.opens_at,
        "opening_to_last_registration_s": max(registered_at, default=math.nan),
        "status_cache_max_age_s": run.max_age,
        "requests_by_kind": {
            k: dict(sorted((str(s), n) for s, n in v.items())) for k, v in sorted(run.requests.status.items())
        },
        "codes_by_kind": dict(sorted(run.requests.codes.items())),
        "latency_ms_by_kind": latency,
        "p99_within_2_s_every_kind": all(v["p99_ms"] <= 2000 for v in latency.values()),
        "per_household": {
            "joins": sum(run.requests.status.get("join", Counter()).values()) / phones if phones else math.nan,
            "ticket_reads": sum(p.reads for p in run.pages) / phones if phones else math.nan,
            # The pages' polls of the shared status: the cache (API Gateway's, CloudFront's) answers them.
            "status_polls_by_pages": sum(p.polls for p in run.pages) / phones if phones else math.nan,
            "status_polls_per_waiting_page": sum(p.polls for p in waited) / len(waited) if waited else math.nan,
            # What reached the service of those: one a max-age for everybody.
            "status_requests_to_the_service": status_requests / phones if phones else math.nan,
        },
        "aws_requests": line.aws_per_phone(paths, phones),
        "probes": run.probes,
    }
