#!/usr/bin/env python3
"""How long the filters IdPs match users by take with N users on SQLite.

Seeds N users straight into a fresh SQLite database (the same rows the server
writes), starts the release binary on it, and times sequential
`GET /scim/v2/Users?filter=...` requests over one keep-alive connection, for
`userName eq` (Okta) and `emails[type eq "work"].value eq` (Entra). Prints a Markdown table. Not a load test: the load harness is
separate work; this answers "does an indexed filter stay flat as the
organisation grows?".

    cargo build --release
    python3 scripts/filter-latency.py --users 1000 1000000 --requests 500
"""
import argparse
import http.client
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

FILTERS = [
    ("userName eq", 'userName eq "USER{i}@example.com"'),
    ("emails[type eq work].value eq", 'emails[type eq "work"].value eq "user{i}@EXAMPLE.com"'),
]
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "scimlink")


def run(db_url, *args):
    out = subprocess.run([BIN, *args], env={**os.environ, "DATABASE_URL": db_url, "RUST_LOG": "warn"},
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def seed(path, org_id, n):
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01T00:00:00+00:00"
    batch = 20000
    for start in range(0, n, batch):
        accounts, emails = [], []
        for i in range(start, min(n, start + batch)):
            uid = str(uuid.UUID(int=random.getrandbits(128), version=4))
            name = f"user{i}@example.com"
            resource = json.dumps({"userName": name, "name": {"givenName": "User", "familyName": str(i)},
                                   "emails": [{"value": name, "type": "work", "primary": True}], "active": True})
            accounts.append((uid, org_id, name, name, None, None, None, name, name, 1, "password", None, 0,
                             resource, 1, now, now))
            emails.append((uid, org_id, name, name, "work", 1))
        con.executemany("INSERT INTO accounts (id, org_id, user_name, user_name_lower, external_id, display_name, "
                        "display_name_lower, primary_email, primary_email_lower, active, auth_mode, password_hash, "
                        "break_glass, resource, version, created_at, updated_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", accounts)
        con.executemany("INSERT INTO account_emails (account_id, org_id, value, value_lower, type_lower, is_primary) "
                        "VALUES (?,?,?,?,?,?)", emails)
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(n, requests):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        db_url = f"sqlite://{path}?mode=rwc"
        run(db_url, "migrate")
        run(db_url, "org", "create", "--slug", "bench")
        token = run(db_url, "scim-token", "create", "--org", "bench")
        org_id = sqlite3.connect(path).execute("SELECT id FROM organizations WHERE slug='bench'").fetchone()[0]
        t0 = time.time()
        seed(path, org_id, n)
        seed_s = time.time() - t0
        port = free_port()
        server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{port}"],
                                  env={**os.environ, "DATABASE_URL": db_url, "RUST_LOG": "warn"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            headers = {"Authorization": f"Bearer {token}"}
            results = {}
            for label, template in FILTERS:
                timings = []
                for k in range(requests + 20):
                    i = random.randrange(n)
                    q = urllib.parse.quote(template.format(i=i))
                    started = time.perf_counter()
                    conn.request("GET", f"/scim/v2/Users?filter={q}", headers=headers)
                    response = conn.getresponse()
                    body = json.loads(response.read())
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status == 200 and body["totalResults"] == 1, body
                    if k >= 20:  # the first 20 warm the caches
                        timings.append(elapsed)
                timings.sort()
                p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
                results[label] = (statistics.median(timings), p99, timings[-1])
        finally:
            server.terminate()
            server.wait()
    return seed_s, results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 1000000])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build the release binary first: cargo build --release")
    print("| users | filter | median (ms) | p99 (ms) | max (ms) |")
    print("|---:|---|---:|---:|---:|")
    for n in args.users:
        seed_s, results = measure(n, args.requests)
        for label, (median, p99, worst) in results.items():
            print(f"| {n:,} | `{label}` | {median:.2f} | {p99:.2f} | {worst:.2f} |", flush=True)
        print(f"<!-- seeding {n:,} users took {seed_s:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
