#!/usr/bin/env python3
"""Groups at scale: PATCH add-one-member and GET ?excludedAttributes=members
on a group of 100,000 members beside a group of 10, on SQLite and PostgreSQL;
and one Bulk request of 1,000 group POSTs, each naming the next as its member
(by bulkId), where every member added is checked for a nesting cycle.

Seeds users and memberships straight into the database, starts the release
binary, and times sequential requests over one keep-alive connection. Each
PATCH adds a user who is not yet a member (`?excludedAttributes=members`, so
the response does not carry the whole list). Prints a Markdown table with
median, p99 and the ratio big/small, then the chained Bulk's time on a fresh
database and on one that already holds `--chain-memberships` user memberships.

    cargo build --release
    python3 scripts/group-bench.py [--members 100000] [--requests 300] [--chain 1000]
        [--chain-memberships 2800] [--backends sqlite postgres]
"""
import time
import argparse

from benchlib import Database, Server, require_binary, summary

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def measure(backend, members, requests):
    db = Database(backend)
    try:
        users = db.seed_users(members + 10 + 2 * (requests + 20))
        big = db.seed_group("big", users[:members])
        small = db.seed_group("small", users[members:members + 10])
        spare = iter(users[members + 10:])
        db.analyze()
        server = Server(db)
        try:
            results = {}
            for label, gid in (("big", big), ("small", small)):
                patch, get = [], []
                for _ in range(requests + 20):
                    body = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": next(spare)}]}]}
                    status, _, ms = server.request("PATCH", f"/scim/v2/Groups/{gid}?excludedAttributes=members", body)
                    assert status == 200, status
                    patch.append(ms)
                    status, group, ms = server.request("GET", f"/scim/v2/Groups/{gid}?excludedAttributes=members")
                    assert status == 200 and "members" not in group, status
                    get.append(ms)
                results[label] = {"PATCH add one member": summary(patch), "GET ?excludedAttributes=members": summary(get)}
            status, page, _ = server.request("GET", "/scim/v2/Groups?excludedAttributes=members")
            assert status == 200 and page["totalResults"] == 2
        finally:
            server.stop()
        return results
    finally:
        db.close()


def chained_bulk(backend, length, memberships):
    """Seconds one Bulk request takes to create `length` groups, each POST
    naming the next group (by its bulkId) as its member, after seeding
    `memberships` user memberships."""
    db = Database(backend)
    try:
        if memberships:
            db.seed_group("seeded", db.seed_users(memberships))
            db.analyze()
        operations = [{
            "method": "POST", "path": "/Groups", "bulkId": f"g{i}",
            "data": {"schemas": [GROUP], "displayName": f"chain {i}",
                     "members": [{"value": f"bulkId:g{i + 1}"}] if i + 1 < length else []},
        } for i in range(length)]
        server = Server(db)
        try:
            started = time.perf_counter()
            status, body, _ = server.request("POST", "/scim/v2/Bulk", {"schemas": [BULK_REQUEST], "Operations": operations})
            seconds = time.perf_counter() - started
            assert status == 200, (status, body)
            failed = [op for op in body["Operations"] if not str(op["status"]).startswith("2")]
            assert not failed, failed[:3]
        finally:
            server.stop()
        return seconds
    finally:
        db.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--chain-memberships", type=int, default=2800)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--only-chain", action="store_true", help="run the chained Bulk only")
    args = parser.parse_args()
    require_binary()
    if not args.only_chain:
        print_scale(args)
    print()
    print(f"| backend | chained Bulk of {args.chain:,} groups, fresh database (s) | "
          f"with {args.chain_memberships:,} memberships (s) |")
    print("|---|---:|---:|")
    for backend in args.backends:
        fresh = chained_bulk(backend, args.chain, 0)
        seeded = chained_bulk(backend, args.chain, args.chain_memberships)
        print(f"| {backend} | {fresh:.2f} | {seeded:.2f} |", flush=True)


def print_scale(args):
    print(f"| backend | operation | median 10 (ms) | p99 10 (ms) | median {args.members:,} (ms) | p99 {args.members:,} (ms) | ratio median | ratio p99 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for backend in args.backends:
        results = measure(backend, args.members, args.requests)
        for op in results["big"]:
            small_med, small_p99, _ = results["small"][op]
            big_med, big_p99, _ = results["big"][op]
            print(f"| {backend} | {op} | {small_med:.2f} | {small_p99:.2f} | {big_med:.2f} | {big_p99:.2f} | "
                  f"{big_med / small_med:.2f} | {big_p99 / small_p99:.2f} |", flush=True)


if __name__ == "__main__":
    main()
