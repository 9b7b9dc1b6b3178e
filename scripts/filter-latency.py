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
import random
import urllib.parse

from benchlib import Database, Server, require_binary, summary

FILTERS = [
    ("userName eq", 'userName eq "USER{i}@example.com"'),
    ("emails[type eq work].value eq", 'emails[type eq "work"].value eq "user{i}@EXAMPLE.com"'),
]


def measure(n, requests):
    db = Database("sqlite")
    try:
        db.seed_users(n)
        db.analyze()
        server = Server(db)
        try:
            results = {}
            for label, template in FILTERS:
                timings = []
                for _ in range(requests + 20):
                    q = urllib.parse.quote(template.format(i=random.randrange(n)))
                    status, body, ms = server.request("GET", f"/scim/v2/Users?filter={q}")
                    assert status == 200 and body["totalResults"] == 1, body
                    timings.append(ms)
                results[label] = summary(timings)
            return results
        finally:
            server.stop()
    finally:
        db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1000, 1000000])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    require_binary()
    print("| users | filter | median (ms) | p99 (ms) | max (ms) |")
    print("|---:|---|---:|---:|---:|")
    for n in args.users:
        for label, (median, p99, worst) in measure(n, args.requests).items():
            print(f"| {n:,} | `{label}` | {median:.2f} | {p99:.2f} | {worst:.2f} |", flush=True)


if __name__ == "__main__":
    main()
