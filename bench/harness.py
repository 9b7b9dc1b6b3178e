#!/usr/bin/env python3
"""The load benchmark: scimlink on SQLite and PostgreSQL beside scim2-server
and a scimmy server, driven by wrk. bench/run.sh installs what it needs and
calls this; bench/README.md explains the workloads, the numbers and the
targets.

    python3 bench/harness.py [--smoke | --quick] [--sizes N ...] [--levels C ...]
                             [--duration S] [--backends sqlite postgres]
                             [--peers scim2-server scimmy] [--peer-max-users N]
"""
import argparse
import datetime
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the sources (not ignored by git)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import dataset  # noqa: E402
import report  # noqa: E402
from dataset import benchlib  # noqa: E402

WORK = os.path.join(ROOT, "target", "bench")
VENV_PYTHON = os.path.join(WORK, "venv", "bin", "python")
NODE_MODULES = os.path.join(WORK, "node", "node_modules")
LUA = os.path.join(HERE, "load.lua")
SAMPLE = 10_000  # users the read and PATCH workloads pick from, spread over the whole organisation
PAGE = 100
WRK_TIMEOUT = "30s"
SCIMLINK_ENV = {"SCIMLINK_MAX_BODY_BYTES": str(16 * 1024 * 1024)}
# The cursor walk that finds the last page asks for pages of WALK_PAGE users,
# from a second scimlink process on the same database that allows them: the
# measured server keeps its defaults, and the memory the walk's big pages
# take is not in its peak.
WALK_PAGE = 10_000

MODES = {
    "smoke": {"sizes": [1000], "levels": [4], "duration": 1, "bulk_duration": 3},
    "quick": {"sizes": [1000, 100_000], "levels": [16], "duration": 2, "bulk_duration": 4},
    "full": {"sizes": [1000, 100_000, 1_000_000], "levels": [1, 32], "duration": 5, "bulk_duration": 10},
}
# A smoke run has every workload on SQLite; on PostgreSQL those whose SQL
# differs; on the peers one read and one write, to show they install, seed and answer.
SMOKE_ONLY = {
    "postgres": {"get_user", "filter_email", "cursor_last", "patch_group_big", "post_user"},
    "peers": {"get_user", "post_user"},
}
# The peers get every workload at the smallest size, and at larger sizes the
# two the targets compare them on (a list or a filter there takes them seconds).
PEERS_LARGE = {"get_user", "post_user"}
BULK_CONNS = 2  # a /Bulk of 1,000 takes about a second on SQLite, several on PostgreSQL


STARTED = time.time()
BACKGROUND = []  # databases being dropped while the run goes on


def log(message):
    elapsed = int(time.time() - STARTED)
    print(f"{elapsed // 60:3d}:{elapsed % 60:02d} {message}", file=sys.stderr, flush=True)


# --- the servers ------------------------------------------------------------------------

class Target:
    """One server under load: its process, where its SCIM API is, and what it supports."""

    def __init__(self, name, process, port, base, token, cursors=False, healthz=False,
                 patch_query="?excludedAttributes=members"):
        self.name, self.process, self.port, self.base, self.token = name, process, port, base, token
        self.cursors, self.healthz, self.patch_query = cursors, healthz, patch_query
        self.client = benchlib.Client(port, token)
        self.db = None  # scimlink's database (the peers keep theirs in memory)

    def reset_peak_memory(self):
        """Linux: writing 5 to clear_refs resets VmHWM to the current RSS."""
        try:
            with open(f"/proc/{self.process.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def peak_memory_mb(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def cpu_seconds(self):
        """User + system CPU time of the server process so far."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, limit=120, window=0.1):
        """Waits until the server process is idle (under 5% of a core over
        `window` s): a slow server may still be working off the requests wrk
        left in flight, and they must not land on the next measurement."""
        deadline = time.time() + limit
        before = self.cpu_seconds()
        while time.time() < deadline:
            time.sleep(window)
            now = self.cpu_seconds()
            if now - before < 0.05 * window:
                return
            before = now
        log(f"    {self.name} still busy after {limit} s")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_scimlink(db):
    server = benchlib.Server(db, env=SCIMLINK_ENV)
    target = Target(f"scimlink {db.backend}", server.process, server.port, "/scim/v2", db.token,
                    cursors=True, healthz=True)
    target.db = db
    return target


def start_peer(name, users, workdir):
    port = benchlib.free_port()
    token = f"bench{random.getrandbits(64):x}"
    if name == "scim2-server":
        cmd = [VENV_PYTHON, os.path.join(HERE, "peers", "scim2_server_seeded.py"), str(users), "--",
               "--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", token]
        base = "/v2"
    else:
        spec = os.path.join(workdir, "spec.json")
        with open(spec, "w") as f:
            json.dump(dataset.spec(users), f)
        cmd = ["node", os.path.join(HERE, "peers", "scimmy-server.cjs"), str(port), token, NODE_MODULES, spec]
        base = "/scim/v2"
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    benchlib.wait_for_port(port, tries=20 * 1200, process=process)  # seeding 1,000,000 takes minutes
    if name == "scimmy":
        # scimmy applies a PATCH to the resource as read with the request's
        # excludedAttributes, so `?excludedAttributes=members` would drop every
        # member: its group PATCH gets the whole group back instead.
        return Target(name, process, port, base, token, patch_query="")
    return Target(name, process, port, base, token)


# --- the workloads ----------------------------------------------------------------------

class Context:
    """What the workloads of one server at one size need: its groups, sample files, a cursor."""

    def __init__(self, target, users, workdir):
        self.target, self.users, self.workdir = target, users, workdir
        rng = random.Random(users)
        self.sample = rng.sample(range(users), min(users, SAMPLE))
        self.pool = [dataset.user_id(i) for i in range(users, users + dataset.POOL - 1)]
        self.probe_user = dataset.user_id(users + dataset.POOL - 1)
        self.groups = {}
        self.total = None
        self.last_cursor = None

    def file(self, name, lines):
        path = os.path.join(self.workdir, f"{self.target.name.replace(' ', '-')}-{name}.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def group(self, name):
        if name not in self.groups:
            q = benchlib.quote(f'displayName eq "{name}"')
            status, body, _ = self.target.client.request(
                "GET", f"{self.target.base}/Groups?filter={q}&excludedAttributes=members")
            if status != 200 or body.get("totalResults") != 1:
                raise ProbeError(f"group {name} not found: {status}")
            self.groups[name] = body["Resources"][0]["id"]
        return self.groups[name]


class ProbeError(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise ProbeError(message)


def user_filter(i, email):
    name = f"{dataset.user_name(i)}@example.com"
    return f'emails[type eq "work"].value eq "{name}"' if email else f'userName eq "{name}"'


class Workload:
    """`prepare(ctx)` probes the server once with a request of the workload's
    shape (raising ProbeError if the answer is wrong) and returns what
    load.lua needs: {"mode", "file" (paths or ids), "arg" (default the SCIM
    base path), "auth" (default True)}."""

    def __init__(self, key, label, prepare, max_conns=None, needs=None, long=False):
        self.key, self.label, self.prepare = key, label, prepare
        self.max_conns, self.needs, self.long = max_conns, needs, long

    def applies(self, target):
        if self.needs == "healthz":
            return target.healthz
        if self.needs == "cursors":
            return target.cursors
        return True


def prep_healthz(ctx):
    status, _, _ = ctx.target.client.request("GET", "/healthz")
    expect(status == 200, f"/healthz answered {status}")
    return {"mode": "get", "file": ctx.file("healthz", ["/healthz"]), "auth": False}


def prep_get_user(ctx):
    base = ctx.target.base
    status, body, _ = ctx.target.client.request("GET", f"{base}/Users/{dataset.user_id(ctx.sample[0])}")
    expect(status == 200 and body.get("userName") == f"{dataset.user_name(ctx.sample[0])}@example.com",
           f"GET /Users/{{id}} answered {status}")
    return {"mode": "get", "file": ctx.file("get-user", [f"{base}/Users/{dataset.user_id(i)}" for i in ctx.sample])}


def prep_filter(email):
    def prepare(ctx):
        base = ctx.target.base
        paths = [f"{base}/Users?filter={benchlib.quote(user_filter(i, email))}" for i in ctx.sample]
        status, body, _ = ctx.target.client.request("GET", paths[0])
        expect(status == 200 and body.get("totalResults") == 1, f"filter answered {status}, {str(body)[:200]}")
        return {"mode": "get", "file": ctx.file("filter-email" if email else "filter-username", paths)}
    return prepare


def prep_list_groups(ctx):
    path = f"{ctx.target.base}/Groups?excludedAttributes=members"
    status, body, _ = ctx.target.client.request("GET", path)
    expect(status == 200 and body.get("totalResults") == 2
           and all("members" not in g for g in body.get("Resources", [])),
           f"GET /Groups?excludedAttributes=members answered {status}, {str(body)[:200]}")
    return {"mode": "get", "file": ctx.file("list-groups", [path])}


def page_load(ctx, name, query):
    """Probes one page of PAGE users (`query` says which); returns its load and the page."""
    path = f"{ctx.target.base}/Users?{query}&count={PAGE}"
    status, body, _ = ctx.target.client.request("GET", path)
    expect(status == 200 and len(body.get("Resources", [])) == PAGE, f"{path} answered {status}, {str(body)[:200]}")
    return {"mode": "get", "file": ctx.file(name, [path])}, body


def prep_page_first(ctx):
    load, page = page_load(ctx, "page-first", "startIndex=1")
    ctx.total = page["totalResults"]
    return load


def prep_page_deep(ctx):
    if ctx.total is None:
        prep_page_first(ctx)
    return page_load(ctx, "page-deep", f"startIndex={ctx.total - PAGE + 1}")[0]


def prep_cursor_first(ctx):
    return page_load(ctx, "cursor-first", "cursor=")[0]


def last_full_cursor(ctx):
    """Walks the cursor pages in shrinking steps (10,000, 1,000, then 100
    users a page, each step starting from the last-but-one page of the one
    before) and returns the cursor of the last full page of 100: it ends
    within 100 users of the end. Every page pays for totalResults, so at
    1,000,000 users a walk of 100-user pages alone would take many minutes.
    A cursor is the key of a row, good on any scimlink process of the
    database, so a second process (WALK_PAGE) does the walking."""
    walker = benchlib.Server(ctx.target.db, env={**SCIMLINK_ENV, "SCIMLINK_MAX_PAGE_SIZE": str(WALK_PAGE)})

    def walk(cursor, count):
        used = []
        while cursor is not None:
            status, body, _ = walker.request(
                "GET", f"{ctx.target.base}/Users?cursor={benchlib.quote(cursor)}&count={count}&attributes=id")
            expect(status == 200, f"cursor walk answered {status}, {str(body)[:200]}")
            used.append((cursor, len(body["Resources"])))
            cursor = body.get("nextCursor")
        return used

    try:
        start = ""
        for step in (WALK_PAGE, 1000):
            pages = walk(start, step)
            start = pages[-2][0] if len(pages) > 1 else start
        fine = [c for c, n in walk(start, PAGE) if n == PAGE]
    finally:
        walker.stop()
    expect(fine, "no full cursor page")
    return fine[-1]


def prep_cursor_last(ctx):
    if ctx.last_cursor is None:
        started = time.time()
        ctx.last_cursor = last_full_cursor(ctx)
        log(f"    walked the cursor pages to the end in {time.time() - started:.1f} s")
    return page_load(ctx, "cursor-last", f"cursor={benchlib.quote(ctx.last_cursor)}")[0]


PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def prep_patch_user(ctx):
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    status, _, _ = ctx.target.client.request("PATCH", f"{ctx.target.base}/Users/{ctx.probe_user}", body)
    expect(status in (200, 204), f"PATCH /Users/{{id}} answered {status}")
    return {"mode": "patch-user", "file": ctx.file("patch-user", [dataset.user_id(i) for i in ctx.sample])}


def prep_patch_group(name):
    """The probe adds a user and removes it, and after each asks which groups
    hold that user and which hold user 0 (a member of both groups from the
    start): a PATCH must change exactly the one membership."""
    def prepare(ctx):
        gid = ctx.group(name)
        group = f"{ctx.target.base}/Groups/{gid}"
        query = ctx.target.patch_query

        def groups_holding(user):
            q = benchlib.quote(f'members.value eq "{user}"')
            status, body, _ = ctx.target.client.request(
                "GET", f"{ctx.target.base}/Groups?filter={q}&excludedAttributes=members")
            expect(status == 200, f"GET /Groups?filter=members.value eq answered {status}, {str(body)[:200]}")
            return body.get("totalResults")

        for op, holding in (({"op": "add", "path": "members", "value": [{"value": ctx.probe_user}]}, 1),
                            ({"op": "remove", "path": f'members[value eq "{ctx.probe_user}"]'}, 0)):
            status, body, _ = ctx.target.client.request("PATCH", group + query,
                                                        {"schemas": [PATCH_OP], "Operations": [op]})
            expect(status in (200, 204), f"PATCH /Groups/{{id}} {op['op']} answered {status}, {str(body)[:200]}")
            expect(groups_holding(ctx.probe_user) == holding,
                   f"after PATCH {op['op']}{query} the user is in {groups_holding(ctx.probe_user)} groups, not {holding}")
            expect(groups_holding(dataset.user_id(0)) == 2,
                   f"after PATCH {op['op']}{query} user 0 is in {groups_holding(dataset.user_id(0))} groups, not 2")
        return {"mode": "patch-group", "file": ctx.file("pool", ctx.pool), "arg": f"{ctx.target.base}|{gid}|{query}"}
    return prepare


def prep_post_user(ctx):
    name = f"probe-{random.getrandbits(48):x}"
    status, body, _ = ctx.target.client.request("POST", f"{ctx.target.base}/Users", dataset.user_resource(name))
    expect(status == 201, f"POST /Users answered {status}, {str(body)[:200]}")
    return {"mode": "post-user"}


def prep_bulk(ctx):
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"p{n}",
            "data": dataset.user_resource(f"probe-{random.getrandbits(48):x}")} for n in range(2)]
    status, body, _ = ctx.target.client.request(
        "POST", f"{ctx.target.base}/Bulk",
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    expect(status == 200 and all(str(o.get("status")).startswith("2") for o in body.get("Operations", [])),
           f"POST /Bulk answered {status}, {str(body)[:200]}")
    return {"mode": "bulk"}


def workloads(users):
    big = dataset.big_group_size(users)
    # Reads first, then writes, so every read sees exactly the seeded data.
    return [
        Workload("healthz", "`GET /healthz` (ceiling)", prep_healthz, needs="healthz"),
        Workload("get_user", "`GET /Users/{id}`", prep_get_user),
        Workload("filter_username", '`GET /Users?filter=userName eq "…"`', prep_filter(False)),
        Workload("filter_email", '`GET /Users?filter=emails[type eq "work"].value eq "…"`', prep_filter(True)),
        Workload("list_groups", "`GET /Groups?excludedAttributes=members`", prep_list_groups),
        Workload("page_first", f"`GET /Users?startIndex=1&count={PAGE}`", prep_page_first),
        Workload("page_deep", f"`GET /Users?startIndex=<end-{PAGE - 1}>&count={PAGE}`", prep_page_deep),
        Workload("cursor_first", f"`GET /Users?cursor=&count={PAGE}` (first page)", prep_cursor_first, needs="cursors"),
        Workload("cursor_last", f"`GET /Users?cursor=<end>&count={PAGE}` (last full page)", prep_cursor_last,
                 needs="cursors"),
        Workload("patch_user", "`PATCH /Users/{id}` replace active", prep_patch_user),
        Workload("patch_group_small", f"`PATCH /Groups/{{id}}` add member ({dataset.SMALL_GROUP} members)",
                 prep_patch_group("small")),
        Workload("patch_group_big", f"`PATCH /Groups/{{id}}` add member ({big:,} members)", prep_patch_group("big")),
        Workload("post_user", "`POST /Users`", prep_post_user),
        Workload("bulk", "`POST /Bulk` of 1,000 creates", prep_bulk, max_conns=BULK_CONNS, long=True),
    ]


# --- running load -----------------------------------------------------------------------

def run_wrk(target, load, conns, duration, tag):
    """One wrk run of `load` (what a workload's prepare returned); wrk's summary as a dict."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", f"--timeout={WRK_TIMEOUT}", "-s", LUA,
           f"http://127.0.0.1:{target.port}", "--", load["mode"], target.token if load.get("auth", True) else "-",
           load.get("arg", target.base), load.get("file", "-"), tag]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise ProbeError(f"wrk failed ({out.returncode}): {out.stderr.strip()[:300]}")
    return json.loads(lines[-1])


def request_seconds(target, load):
    """How long one request of a GET load takes (the better of two), else 0."""
    if load["mode"] != "get":
        return 0.0
    with open(load["file"]) as f:
        path = f.readline().strip()
    client = target.client if load.get("auth", True) else benchlib.Client(target.port)
    try:
        return min(client.request("GET", path)[2] for _ in range(2)) / 1000
    except Exception:  # noqa: BLE001 (the probe answered; wrk will count what goes wrong)
        return 0.0


def measure(target, ctx, workload, args, results, users):
    try:
        load = workload.prepare(ctx)
    except ProbeError as e:
        log(f"    {workload.key}: PROBE FAILED: {e}")
        results.append(report.Row(users, workload, None, target.name, probe_error=str(e)))
        return
    except Exception as e:  # noqa: BLE001 (a peer closing the connection, say): reported, not fatal
        log(f"    {workload.key}: PROBE FAILED: {e!r}")
        results.append(report.Row(users, workload, None, target.name, probe_error=repr(e)))
        return
    duration = args.bulk_duration if workload.long else args.duration
    levels = args.levels
    seconds = request_seconds(target, load)
    if seconds * max(levels) > duration and len(levels) > 1:
        # A server this slow would not finish a round of requests at the higher
        # levels within the run, and would spend minutes on what wrk left in flight.
        levels = levels[:1]
        log(f"    {workload.key}: one request takes {seconds:.1f} s: only {levels[0]} connection(s)")
    for conns in levels:
        conns = min(conns, workload.max_conns or conns)
        if any(r.users == users and r.workload.key == workload.key and r.server == target.name and r.conns == conns
               for r in results):
            continue  # bulk's connections are capped: that level already ran
        target.reset_peak_memory()
        tag = f"{workload.key}-{conns}-{random.getrandbits(32):x}"
        try:
            stats = run_wrk(target, load, conns, duration, tag)
        except (ProbeError, subprocess.TimeoutExpired) as e:
            results.append(report.Row(users, workload, conns, target.name, probe_error=str(e)))
            log(f"    {workload.key} c={conns}: {e}")
            continue
        row = report.Row(users, workload, conns, target.name, stats=stats, rss_mb=target.peak_memory_mb())
        target.settle()
        results.append(row)
        log(f"    {workload.key:18} c={conns:<3} {row.rps:10.1f} req/s  p50 {row.p50_ms:8.2f} ms  "
            f"p99 {row.p99_ms:8.2f} ms  errors {row.errors}  rss {row.rss_mb or 0:.0f} MB")


def run_target(target, users, args, workdir, results, only=None):
    ctx = Context(target, users, workdir)
    for workload in workloads(users):
        if only is not None and workload.key not in only:
            continue
        if args.workloads and workload.key not in args.workloads:
            continue
        if not workload.applies(target):
            continue
        measure(target, ctx, workload, args, results, users)


def find_pgbench():
    return shutil.which("pgbench") or max(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), default=None)


def run_pgbench(db, levels, duration, users, results, workdir):
    """pgbench inserting rows shaped like an account (a text key, a unique
    lower-cased name, the JSON resource) into a scratch table of the same
    database: the floor under one SCIM create on this PostgreSQL."""
    pgbench = find_pgbench()
    if pgbench is None:
        log("    pgbench not found: skipped")
        return
    dataset.execute(db, "CREATE TABLE bench_pgbench_insert (id text PRIMARY KEY DEFAULT gen_random_uuid()::text, "
                        "user_name_lower text NOT NULL UNIQUE, resource text NOT NULL, "
                        "created_at timestamptz NOT NULL DEFAULT now())")
    resource = json.dumps(dataset.user_resource("pgbench")).replace("'", "''")
    script = os.path.join(workdir, "pgbench-insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO bench_pgbench_insert (user_name_lower, resource) "
                f"VALUES (gen_random_uuid()::text || '@example.com', '{resource}');\n")
    workload = Workload("pgbench_insert", "pgbench `INSERT` (PostgreSQL floor for `POST /Users`)", None)
    for conns in levels:
        out = subprocess.run([pgbench, "-n", "-c", str(conns), "-j", "1", "-T", str(duration), "-f", script, db.url],
                             capture_output=True, text=True)
        tps = re.search(r"tps = ([0-9.]+)", out.stdout)
        lat = re.search(r"latency average = ([0-9.]+) ms", out.stdout)
        failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
        if out.returncode != 0 or not tps:
            results.append(report.Row(users, workload, conns, "pgbench", probe_error=out.stderr.strip()[:300]))
            continue
        results.append(report.Row(users, workload, conns, "pgbench", stats={
            "requests": 0, "rps": float(tps.group(1)), "p50_us": None, "p99_us": None,
            "mean_us": float(lat.group(1)) * 1000 if lat else None,
            "errors": {"failed": int(failed.group(1)) if failed else 0}}))
        log(f"    pgbench insert     c={conns:<3} {float(tps.group(1)):10.1f} tps")


# --- one size ---------------------------------------------------------------------------

def run_scimlink(backend, users, args, workdir, results, only=None):
    log(f"  scimlink on {backend}: seeding {users:,} users")
    started = time.time()
    db = benchlib.Database(backend)
    try:
        seeding = benchlib.Server(db, env=SCIMLINK_ENV)
        try:
            dataset.seed_scimlink(db, seeding, users, log=log)
        finally:
            seeding.stop()
        log(f"    seeded in {time.time() - started:.1f} s")
        target = start_scimlink(db)
        try:
            run_target(target, users, args, workdir, results, only)
            if backend == "postgres" and (only is None or "post_user" in only):
                run_pgbench(db, args.levels, args.duration, users, results, workdir)
        finally:
            target.stop()
    finally:
        # A smoke run does not wait for the drop (a checkpoint); a measuring run
        # does, so the checkpoint does not land on the next server's numbers.
        dropping = db.close(wait=args.mode != "smoke")
        if dropping:
            BACKGROUND.append(dropping)


def run_peer(name, users, args, workdir, results, only=None):
    log(f"  {name}: seeding {users:,} users")
    started = time.time()
    try:
        target = start_peer(name, users, workdir)
    except SystemExit as e:
        results.append(report.Row(users, Workload("start", "start and seed", None), None, name, probe_error=str(e)))
        log(f"    {name} did not start: {e}")
        return
    log(f"    seeded and listening in {time.time() - started:.1f} s")
    try:
        run_target(target, users, args, workdir, results, only)
    finally:
        target.stop()


def machine():
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            return "?"
        return "?"

    def cmd(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"

    def npm_version(pkg):
        try:
            with open(os.path.join(NODE_MODULES, pkg, "package.json")) as f:
                return json.load(f)["version"]
        except OSError:
            return "?"

    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    sha = cmd("git", "rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if cmd("git", "status", "--porcelain", "--", "src", "entity", "migration") else ""
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "kernel": os.uname().release,
        "scimlink": sha + dirty,
        # The release build unless SCIMLINK_BIN names another (CI's smoke run uses the debug one).
        "build": "debug build" if f"{os.sep}debug{os.sep}" in os.path.abspath(benchlib.BIN) else "release build",
        "wrk": cmd("wrk", "-v").splitlines()[0].split(" [")[0] if shutil.which("wrk") else "?",
        "postgres": cmd("psql", "-V"),
        "scim2-server": cmd(VENV_PYTHON, "-c", "import importlib.metadata as m; print(m.version('scim2-server'))")
        if os.path.exists(VENV_PYTHON) else "?",
        "scimmy": f"{npm_version('scimmy')} + scimmy-routers {npm_version('scimmy-routers')} "
                  f"+ express {npm_version('express')}, node {cmd('node', '--version')}",
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_const", dest="mode", const="smoke")
    parser.add_argument("--quick", action="store_const", dest="mode", const="quick")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--levels", type=int, nargs="+", help="connections (wrk -c)")
    parser.add_argument("--duration", type=int, help="seconds per run")
    parser.add_argument("--bulk-duration", type=int, help="seconds per run of POST /Bulk")
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--peers", nargs="*", default=["scim2-server", "scimmy"], choices=["scim2-server", "scimmy"])
    parser.add_argument("--peer-max-users", type=int, default=100_000,
                        help="the peers run at data sizes up to this (default 100,000)")
    parser.add_argument("--workloads", nargs="+", metavar="KEY",
                        help="only these workloads (get_user, filter_email, bulk, ...: the keys in workloads())")
    parser.add_argument("--output", help="the Markdown file to write (default bench/results/<date>.md)")
    args = parser.parse_args()
    args.mode = args.mode or "full"
    for key, value in MODES[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    benchlib.require_binary()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: bench/run.sh installs it (apt-get install -y wrk)")
    if "postgres" in args.backends and subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432 (or pass --backends sqlite)")

    started = time.time()
    info = machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="scimlink-bench-") as workdir:
        for users in args.sizes:
            log(f"== {users:,} users")
            smoke = args.mode == "smoke"
            for backend in args.backends:
                run_scimlink(backend, users, args, workdir, results, SMOKE_ONLY.get(backend) if smoke else None)
            if users <= args.peer_max_users:
                only = None
                if smoke:
                    only = SMOKE_ONLY["peers"]
                elif users > min(args.sizes):
                    only = PEERS_LARGE
                for peer in args.peers:
                    run_peer(peer, users, args, workdir, results, only)
    for process in BACKGROUND:
        process.wait()
    info["load_after"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    elapsed = time.time() - started
    text = report.render(results, args, info, elapsed)
    print(text)

    stamp = datetime.datetime.now().strftime("%Y-%m-%d")
    if args.output:
        out = args.output
    elif args.mode == "smoke":
        out = os.path.join(WORK, f"smoke-{stamp}.md")
    else:
        out = os.path.join(HERE, "results", f"{stamp}{'' if args.mode == 'full' else '-' + args.mode}.md")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.join(WORK, "last-run.json"), "w") as f:
        json.dump([r.as_dict() for r in results], f, indent=1)
    log(f"wrote {out} ({elapsed:.0f} s)")

    failures = [r for r in results if r.failed(strict=r.server.startswith("scimlink"))]
    if failures:
        for r in failures:
            log(f"FAILED: {r.users:,} users, {r.server}, {r.workload.key}, c={r.conns}: "
                f"{r.probe_error or f'{r.errors} errors'}")
        sys.exit(1)


if __name__ == "__main__":
    main()
