"""Load and durability benchmark of the study server: N simulated participants at once.

For each backend (SQLite, then PostgreSQL on a fresh database) this script

1. creates a database, applies the migrations and writes a synthetic class-discrimination
   study (generated pictures, the real task plugin);
2. starts ``xai-eval serve`` (waitress) on 127.0.0.1 in a subprocess;
3. runs N participant threads, each a browser-like client with its own cookie and CSRF
   token: start a session, then fetch-trial / think / answer until the completion code;
4. optionally SIGKILLs the server mid-run and restarts it on the same port; participants
   retry (same trial id: the API is idempotent) and resume where they were;
5. reports answers/s, p50/p99 latency per request kind, errors, and checks in the
   database that every answer the server acknowledged (HTTP 200/201) is stored exactly
   once and that no participant has a stored answer it was not told about twice.

Loopback only; participant count, think time and wall time are bounded. Example::

    .venv/bin/python benchmarks/study_load.py --participants 200 --backend both
    .venv/bin/python benchmarks/study_load.py --participants 200 --kill-after 10
    .venv/bin/python benchmarks/study_load.py --cpu-only --participants 30
    .venv/bin/python benchmarks/study_load.py --participants 200 --login-flood 50

``--login-flood N`` adds N clients hammering the admin login with wrong passwords during
the run (``benchmarks/study_flood.py``; ``--flood-spread``: each from its own loopback
address) and reports what they were answered next to the participants' latencies.

``--cpu-only`` measures instead the CPU time one request costs the server: no HTTP server,
no threads, the participants run one after another through Flask's test client in this
process, so ``time.process_time()`` per request is the app's own cost (SQLite: all of it;
PostgreSQL: the Python side, not the database server's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_flood  # noqa: E402  (the login-flood clients, next to this script)

HOST = "127.0.0.1"
MAX_PARTICIPANTS = 1000
COOKIE = "xai_eval_session"
STARTUP_S = 240


# --- the simulated participant ------------------------------------------------------------
@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    acknowledged: dict[str, int] = field(default_factory=dict)  # trial id -> participant no.
    completed: int = 0
    answers: int = 0

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


class Browser:
    """One participant's HTTP client: keep-alive connection, session cookie, CSRF header."""

    def __init__(self, port: int, stats: Stats, deadline: float) -> None:
        self.port, self.stats, self.deadline = port, stats, deadline
        self.conn: http.client.HTTPConnection | None = None
        self.cookie = ""
        self.csrf = ""

    def _request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        headers = {"Accept": "application/json", "X-CSRFToken": self.csrf}
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie" and value.startswith(COOKIE + "="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1]
        return response.status, json.loads(payload) if payload else {}

    def call(self, kind: str, method: str, path: str, body: dict | None = None) -> dict:
        """Request with retries on dropped connections and 5xx (like study.js does)."""
        attempt = 0
        while True:
            if time.monotonic() > self.deadline:
                raise TimeoutError("benchmark time limit reached")
            start = time.perf_counter()
            try:
                status, data = self._request(method, path, body)
            except (OSError, http.client.HTTPException, json.JSONDecodeError):
                self.stats.error(f"{kind}: connection")
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                attempt += 1
                time.sleep(min(0.2 * attempt, 2.0))
                continue
            self.stats.record(kind, time.perf_counter() - start)
            if status >= 500:
                self.stats.error(f"{kind}: HTTP {status}")
                attempt += 1
                time.sleep(min(0.2 * attempt, 2.0))
                continue
            if status >= 400:
                self.stats.error(f"{kind}: HTTP {status} {data.get('error')}")
                raise RuntimeError(f"{method} {path} -> {status}: {data}")
            return data


def participant(number: int, port: int, slug: str, stats: Stats, think_s: float,
                deadline: float, rng: random.Random) -> None:
    browser = Browser(port, stats, deadline)
    try:
        browser.csrf = browser.call("csrf", "GET", "/api/csrf")["csrf_token"]
        browser.call("start", "POST", f"/api/studies/{slug}/sessions",
                     {"PROLIFIC_PID": f"bench{number:05d}", "STUDY_ID": "bench",
                      "SESSION_ID": secrets.token_hex(4)})
        while True:
            trial = browser.call("trial", "GET", "/api/sessions/current/trial")
            if trial["done"]:
                with stats.lock:
                    stats.completed += 1
                return
            time.sleep(think_s * rng.uniform(0.5, 1.5))
            question = trial["question"]
            values = [o["value"] for o in trial["options"]]
            value = (question.split("“")[1].split("”")[0] if "attention check" in question
                     else rng.choice(values))
            outcome = browser.call("answer", "POST", "/api/sessions/current/answers",
                                   {"trial_id": trial["trial_id"], "answer": value,
                                    "rt_ms": rng.randint(600, 4000)})
            with stats.lock:  # acknowledged: 201 stored, or 200 already stored
                stats.acknowledged[outcome["trial_id"]] = number
                stats.answers += 1
    except (TimeoutError, RuntimeError) as exc:
        stats.error(f"participant gave up: {type(exc).__name__}")
    finally:
        if browser.conn is not None:
            browser.conn.close()


# --- server and database ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(db_url: str, port: int, threads: int, secret: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, XAI_EVAL_SECRET_KEY=secret, PYTHONUNBUFFERED="1",
               XAI_EVAL_ENROL_LIMIT_PER_CLIENT="0")  # every simulated browser is 127.0.0.1
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "xai_eval.cli", "serve", "--db", db_url, "--host", HOST,
         "--port", str(port), "--threads", str(threads), "--insecure-cookies"],
        cwd=ROOT, env=env, stdout=handle, stderr=handle)
    deadline = time.monotonic() + STARTUP_S  # importing torch and the plugins: slow when loaded
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not listen on {port} within {STARTUP_S} s; see {log}")


def prepare_database(db_url: str, slug: str, images: int, trials: int) -> None:
    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.db.migrate import upgrade
    from xai_eval.studies.admin_service import create_admin
    from xai_eval.testing import create_sample_study

    upgrade(db_url)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        create_sample_study(session, slug=slug, images=images, trials=trials, practice=2,
                            attention=1)
        create_admin(session, study_flood.ADMIN_USER, secrets.token_hex(16))  # the flood's target
    engine.dispose()


def verify(db_url: str, slug: str, stats: Stats) -> dict[str, int]:
    """Every acknowledged trial id has exactly one stored answer; count the rest."""
    from sqlalchemy import func, select

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.db.studies import Participant, Response, Study, TrialInstance

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        study_id = session.scalar(select(Study.id).where(Study.slug == slug))
        rows = session.execute(
            select(TrialInstance.public_id, func.count(Response.id))
            .join(Response, Response.trial_id == TrialInstance.id)
            .join(Participant, Participant.id == TrialInstance.participant_id)
            .where(Participant.study_id == study_id).group_by(TrialInstance.public_id)).all()
        participants = session.scalar(select(func.count()).select_from(Participant)
                                      .where(Participant.study_id == study_id))
    engine.dispose()
    stored = dict(rows)
    lost = sum(1 for trial_id in stats.acknowledged if stored.get(trial_id, 0) == 0)
    duplicated = sum(1 for count in stored.values() if count > 1)
    return {"acknowledged": len(stats.acknowledged), "stored": sum(stored.values()),
            "lost": lost, "duplicated": duplicated,
            "stored_not_acknowledged": sum(1 for t in stored if t not in stats.acknowledged),
            "participants_in_db": participants}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# --- one backend --------------------------------------------------------------------------
def run_backend(name: str, db_url: str, args: argparse.Namespace, workdir: Path) -> dict:
    slug = "bench"
    prepare_database(db_url, slug, args.images, args.trials)
    port = free_port()
    log = workdir / f"server-{name}.log"
    secret = secrets.token_hex(32)
    server = start_server(db_url, port, args.server_threads, secret, log)
    stats = Stats()
    deadline = time.monotonic() + args.time_limit
    rng = random.Random(args.seed)
    threads = [threading.Thread(target=participant, daemon=True,
                                args=(i, port, slug, stats, args.think_ms / 1000, deadline,
                                      random.Random(rng.random())))
               for i in range(args.participants)]
    expected = args.participants * (args.trials + 3)
    kill_info = None
    start = time.perf_counter()
    flood = (study_flood.start_flood(args.login_flood, port, args.flood_spread, args.seed)
             if args.login_flood else None)
    from tqdm import tqdm

    with tqdm(total=expected, desc=f"{name}: answers", unit="ans", leave=False) as bar:
        for thread in threads:
            thread.start()
            time.sleep(args.ramp_s / max(1, args.participants))
        killed = False
        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            bar.update(stats.answers - bar.n)
            if args.kill_after and not killed and time.perf_counter() - start > args.kill_after:
                acknowledged_before = len(stats.acknowledged)
                server.send_signal(signal.SIGKILL)
                server.wait()
                time.sleep(args.down_s)
                server = start_server(db_url, port, args.server_threads, secret, log)
                killed = True
                kill_info = {"killed_at_s": round(time.perf_counter() - start, 1),
                             "acknowledged_before_kill": acknowledged_before}
        bar.update(stats.answers - bar.n)
    elapsed = time.perf_counter() - start
    flood_report = study_flood.stop_flood(*flood, elapsed) if flood else None
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    check = verify(db_url, slug, stats)
    all_latencies = [v for values in stats.latencies.values() for v in values]
    participant_latencies = stats.latencies["trial"] + stats.latencies["answer"]
    report = {
        "backend": name, "participants": args.participants, "completed": stats.completed,
        "answers": stats.answers, "seconds": round(elapsed, 1),
        "answers_per_s": round(stats.answers / elapsed, 1),
        "latency_ms": {kind: {"n": len(v), "p50": round(1000 * percentile(v, 50), 1),
                              "p99": round(1000 * percentile(v, 99), 1),
                              "max": round(1000 * max(v), 1)}
                       for kind, v in sorted(stats.latencies.items())},
        "all_requests_p99_ms": round(1000 * percentile(all_latencies, 99), 1),
        "participant_p99_ms": round(1000 * percentile(participant_latencies, 99), 1),
        "errors": dict(stats.errors), "durability": check, "kill": kill_info,
        "login_flood": flood_report,
    }
    return report


def cpu_per_request(name: str, db_url: str, args: argparse.Namespace) -> dict:
    """CPU seconds per request of whole participant sessions, in-process (no server)."""
    from xai_eval.web.app import create_app

    slug = "bench"
    prepare_database(db_url, slug, args.images, args.trials)
    app = create_app({"DATABASE_URL": db_url, "SECRET_KEY": secrets.token_hex(16),
                      "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False})

    def session(number: int) -> int:
        client = app.test_client()
        reply = client.post(f"/api/studies/{slug}/sessions",
                            json={"PROLIFIC_PID": f"cpu{number:05d}", "STUDY_ID": "bench",
                                  "SESSION_ID": "cpu"})
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"start failed: {reply.status_code} {reply.data[:200]!r}")
        requests = 1
        while True:
            trial = client.get("/api/sessions/current/trial").get_json()
            requests += 1
            if trial["done"]:
                return requests
            question = trial["question"]
            value = (question.split("“")[1].split("”")[0] if "attention check" in question
                     else trial["options"][0]["value"])
            reply = client.post("/api/sessions/current/answers",
                                json={"trial_id": trial["trial_id"], "answer": value,
                                      "rt_ms": 1000})
            requests += 1
            if reply.status_code != 201:
                raise RuntimeError(f"answer failed: {reply.status_code} {reply.data[:200]!r}")

    session(-1)  # warm-up: imports, caches, connection pool
    cpu, wall = time.process_time(), time.perf_counter()
    requests = sum(session(i) for i in range(args.participants))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    app.extensions["xai_eval_db"].engine.dispose()
    return {"backend": name, "requests": requests,
            "cpu_ms_per_request": round(1000 * cpu / requests, 2),
            "wall_ms_per_request": round(1000 * wall / requests, 2)}


def postgres_database(admin_dsn: str) -> tuple[str, callable]:
    import psycopg

    name = f"xai_eval_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)

    def drop() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


def print_report(report: dict) -> None:
    d = report["durability"]
    print(f"\n== {report['backend']}: {report['participants']} participants, "
          f"{report['completed']} completed, {report['answers']} answers in "
          f"{report['seconds']} s = {report['answers_per_s']} answers/s")
    for kind, lat in report["latency_ms"].items():
        print(f"   {kind:7s} n={lat['n']:6d}  p50={lat['p50']:8.1f} ms  p99={lat['p99']:8.1f} ms"
              f"  max={lat['max']:8.1f} ms")
    print(f"   all requests p99 = {report['all_requests_p99_ms']} ms; participant trial+answer "
          f"p99 = {report['participant_p99_ms']} ms")
    if report["login_flood"]:
        f = report["login_flood"]
        print(f"   login flood: {f['clients']} clients, {f['requests']} logins "
              f"({f['requests_per_s']}/s), answered {f['statuses']}, "
              f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms")
    print(f"   errors: {report['errors'] or 'none'}")
    if report["kill"]:
        print(f"   server SIGKILLed at {report['kill']['killed_at_s']} s "
              f"({report['kill']['acknowledged_before_kill']} answers acknowledged before), "
              "restarted")
    print(f"   durability: acknowledged {d['acknowledged']}, stored {d['stored']}, "
          f"lost {d['lost']}, duplicated {d['duplicated']}, "
          f"stored but unacknowledged {d['stored_not_acknowledged']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--participants", type=int, default=200,
                        help=f"concurrent simulated participants (1-{MAX_PARTICIPANTS})")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-admin-dsn", default=os.environ.get(
        "XAI_EVAL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="maintenance database used to create/drop the fresh benchmark database")
    parser.add_argument("--trials", type=int, default=10, help="main trials per participant "
                        "(each also gets 2 practice trials and 1 attention check)")
    parser.add_argument("--images", type=int, default=40, help="images in the synthetic study")
    parser.add_argument("--think-ms", type=float, default=1000.0,
                        help="mean time a participant looks at a trial before answering "
                             "(uniform 0.5x-1.5x); 0 hammers the server")
    parser.add_argument("--ramp-s", type=float, default=5.0,
                        help="spread the participants' arrival over this many seconds")
    parser.add_argument("--server-threads", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="hard wall-time limit per backend, seconds")
    parser.add_argument("--kill-after", type=float, default=0.0,
                        help="SIGKILL the server this many seconds into the run, then restart "
                             "it (0: never)")
    parser.add_argument("--down-s", type=float, default=1.0,
                        help="how long the server stays down after the kill")
    parser.add_argument("--login-flood", type=int, default=0, metavar="N",
                        help="N clients hammer the admin login with wrong passwords during "
                             "the run (0: none)")
    parser.add_argument("--flood-spread", action="store_true",
                        help="each flood client from its own loopback address (127.0.x.y)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-only", action="store_true",
                        help="measure the CPU time per request in-process (Flask test client, "
                             "participants one after another) instead of the load run")
    parser.add_argument("--json", type=Path, default=None, help="also write the reports here")
    args = parser.parse_args(argv)
    if not 1 <= args.participants <= MAX_PARTICIPANTS:
        parser.error(f"--participants must be between 1 and {MAX_PARTICIPANTS}")
    if not 0 <= args.login_flood <= 500:
        parser.error("--login-flood must be between 0 and 500")
    if args.time_limit <= 0 or args.time_limit > 3600:
        parser.error("--time-limit must be in (0, 3600] seconds")
    reports = []
    with tempfile.TemporaryDirectory(prefix="xai-eval-load-") as tmp:
        workdir = Path(tmp)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            if args.cpu_only:
                if backend == "sqlite":
                    cpu = cpu_per_request("sqlite", f"sqlite:///{workdir / 'cpu.db'}", args)
                else:
                    url, drop = postgres_database(args.pg_admin_dsn)
                    try:
                        cpu = cpu_per_request("postgresql", url, args)
                    finally:
                        drop()
                print(f"{cpu['backend']}: {cpu['requests']} requests, "
                      f"{cpu['cpu_ms_per_request']} ms CPU / request "
                      f"({cpu['wall_ms_per_request']} ms wall)")
                reports.append(cpu)
                continue
            if backend == "sqlite":
                report = run_backend("sqlite", f"sqlite:///{workdir / 'bench.db'}", args, workdir)
            else:
                url, drop = postgres_database(args.pg_admin_dsn)
                try:
                    report = run_backend("postgresql", url, args, workdir)
                finally:
                    drop()
            print_report(report)
            reports.append(report)
            if report["durability"]["lost"] or report["durability"]["duplicated"]:
                print((workdir / f"server-{backend}.log").read_text()[-3000:], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    bad = any(r["durability"]["lost"] or r["durability"]["duplicated"]
              for r in reports if "durability" in r)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
