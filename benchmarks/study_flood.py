"""The login flood of ``benchmarks/study_load.py --login-flood N``: attackers next to the crowd.

N client threads post wrong admin passwords to ``/admin/login`` as fast as they are
answered (keep-alive connections, a CSRF token like a browser, ``Retry-After`` ignored: an
attacker does not wait), while the participants take the study. Half of each client's
attempts name the real admin account, half a random unknown name, so both the per-account
and the per-client counters are exercised. With ``--flood-spread`` each client connects
from its own loopback address (127.0.x.y), so the per-client counter does not merge them:
a distributed attack, where only the per-process hash slot bounds the CPU spent hashing.

The issue this answers (issue 8): 48 parallel wrong logins raised a participant's
next-trial request from 9 ms to 7.9 s, because a failed login slept 0.5 s in a worker.
"""

from __future__ import annotations

import http.client
import json
import random
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

HOST = "127.0.0.1"
COOKIE = "xai_eval_session"
ADMIN_USER = "bench-admin"


@dataclass
class FloodStats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def record(self, status: str, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)


def source_address(number: int, spread: bool) -> tuple[str, int] | None:
    """Client ``number``'s own loopback address under ``--flood-spread`` (Linux routes all
    of 127.0.0.0/8 to the loopback interface), else the default (127.0.0.1)."""
    if not spread:
        return None
    return (f"127.0.{1 + number // 250}.{1 + number % 250}", 0)


def flood_client(number: int, port: int, stop: threading.Event, stats: FloodStats,
                 spread: bool, seed: int) -> None:
    """Post wrong passwords until ``stop`` is set."""
    rng = random.Random(seed)
    conn: http.client.HTTPConnection | None = None
    cookie = csrf = ""
    attempt = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=30,
                                                  source_address=source_address(number, spread))
                conn.request("GET", "/api/csrf", headers={"Accept": "application/json"})
                reply = conn.getresponse()
                csrf = json.loads(reply.read())["csrf_token"]
                cookie = next(v.split(";", 1)[0] for h, v in reply.getheaders()
                              if h.lower() == "set-cookie" and v.startswith(COOKIE + "="))
            attempt += 1
            username = ADMIN_USER if attempt % 2 else f"guess-{rng.randrange(10**9)}"
            body = urllib.parse.urlencode({"username": username,
                                           "password": secrets.token_hex(8),
                                           "csrf_token": csrf})
            start = time.perf_counter()
            conn.request("POST", "/admin/login", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            reply = conn.getresponse()
            reply.read()
            stats.record(str(reply.status), time.perf_counter() - start)
        except (OSError, http.client.HTTPException, ValueError, StopIteration):
            stats.record("connection", 0.0)
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
    if conn is not None:
        conn.close()


def start_flood(clients: int, port: int, spread: bool, seed: int
                ) -> tuple[threading.Event, FloodStats, list[threading.Thread]]:
    stop, stats = threading.Event(), FloodStats()
    threads = [threading.Thread(target=flood_client, daemon=True,
                                args=(n, port, stop, stats, spread, seed + n))
               for n in range(clients)]
    for thread in threads:
        thread.start()
    return stop, stats, threads


def stop_flood(stop: threading.Event, stats: FloodStats, threads: list[threading.Thread],
               seconds: float) -> dict:
    """Stop the clients and summarise what the server answered them."""
    stop.set()
    for thread in threads:
        thread.join(timeout=35)
    ordered = sorted(stats.latencies)

    def pct(q: float) -> float:
        if not ordered:
            return float("nan")
        return round(1000 * ordered[min(len(ordered) - 1, round(q / 100 * len(ordered)))], 1)

    total = sum(stats.statuses.values())
    return {"clients": len(threads), "requests": total,
            "requests_per_s": round(total / max(seconds, 1e-9), 1),
            "statuses": dict(stats.statuses), "p50_ms": pct(50), "p99_ms": pct(99)}
