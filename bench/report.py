"""The Markdown the benchmark prints and writes: the targets of issue 6 with
a verdict each, then one table per data size."""
import datetime

PEERS = ("scim2-server", "scimmy")
FLAT = 1.5  # "within 1.5x"


class Row:
    """One measurement: a workload at one concurrency on one server at one size."""

    def __init__(self, users, workload, conns, server, stats=None, rss_mb=None, probe_error=None):
        self.users, self.workload, self.conns, self.server = users, workload, conns, server
        self.stats, self.rss_mb, self.probe_error = stats or {}, rss_mb, probe_error

    @property
    def rps(self):
        if "rps" in self.stats:
            return self.stats["rps"]
        seconds = self.stats.get("duration_us", 0) / 1e6
        return self.stats.get("requests", 0) / seconds if seconds else 0.0

    def _ms(self, key):
        value = self.stats.get(key)
        return None if value is None or not self.stats.get("requests") else value / 1000

    @property
    def p50_ms(self):
        return self._ms("p50_us") or 0.0

    @property
    def p99_ms(self):
        return self._ms("p99_us") or 0.0

    @property
    def errors(self):
        return sum(self.stats.get("errors", {}).values()) + (1 if self.probe_error else 0)

    def failed(self, strict):
        """A probe that went wrong always fails the run; errors under load only on scimlink (`strict`)."""
        return bool(self.probe_error) or (strict and self.errors > 0)

    def as_dict(self):
        return {"users": self.users, "workload": self.workload.key, "conns": self.conns, "server": self.server,
                "rps": self.rps, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "errors": self.errors,
                "rss_mb": self.rss_mb, "probe_error": self.probe_error, "wrk": self.stats}


def _num(value, digits=1):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(a, b):
    if not a or not b:
        return None
    return a / b


class Results:
    def __init__(self, rows):
        self.rows = rows

    def get(self, users, key, server, conns):
        for r in self.rows:
            if (r.users, r.workload.key, r.server, r.conns) == (users, key, server, conns) and not r.probe_error:
                return r
        return None


def _table(results, users):
    out = [f"## {users:,} users", "",
           "| workload | conns | server | req/s | p50 ms | p99 ms | errors | peak RSS MB | of /healthz "
           "| × scim2-server | × scimmy |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    seen = []
    for r in results.rows:
        if r.users == users and r.workload.key not in seen:
            seen.append(r.workload.key)
    for key in seen:
        rows = [r for r in results.rows if r.users == users and r.workload.key == key]
        rows.sort(key=lambda r: (r.conns or 0, _server_order(r.server)))
        for r in rows:
            if r.probe_error:
                out.append(f"| {r.workload.label} | {r.conns or '—'} | {r.server} | — | — | — | {r.errors} | — | — "
                           f"| — | — |")
                continue
            cells = ["", "", ""]
            if r.server.startswith("scimlink"):
                ceiling = results.get(users, "healthz", r.server, r.conns)
                if ceiling and key != "healthz":
                    cells[0] = f"{100 * r.rps / ceiling.rps:.0f}%" if ceiling.rps else "—"
                for n, peer in enumerate(PEERS):
                    other = results.get(users, key, peer, r.conns)
                    if other:
                        ratio = _ratio(r.rps, other.rps)
                        cells[n + 1] = f"{ratio:,.1f}×" if ratio else ("∞" if r.rps else "—")
            if r.server == "pgbench":
                latency = f"avg {_num(r.stats.get('mean_us', 0) / 1000, 2)}" if r.stats.get("mean_us") else "—"
                out.append(f"| {r.workload.label} | {r.conns} | pgbench | {_num(r.rps)} | {latency} | — | {r.errors} "
                           f"| — | — | — | — |")
                continue
            note = "" if r.stats.get("requests") else " (none completed)"
            out.append(f"| {r.workload.label} | {r.conns} | {r.server} | {_num(r.rps)}{note} | {_num(r._ms('p50_us'), 2)} "
                       f"| {_num(r._ms('p99_us'), 2)} | {r.errors} | {_num(r.rss_mb, 0)} | {cells[0]} | {cells[1]} "
                       f"| {cells[2]} |")
    return out


def _server_order(server):
    order = ["scimlink sqlite", "scimlink postgres", "pgbench", *PEERS]
    return order.index(server) if server in order else len(order)


def _verdict(ok):
    if ok is None:
        return "n/a"
    return "met" if ok else "**missed**"


def _targets(results, args):
    """One line per target of issue 6 (and per backend or size where it applies)."""
    sizes = sorted(args.sizes)
    small, large = sizes[0], sizes[-1]
    top = max(args.levels)
    full_note = "" if large >= 1_000_000 else " (the full run checks 1,000,000)"
    lines = ["## Targets (issue 6)", "",
             f"Throughput targets compare req/s at {top} connections; latency targets compare p99 at every "
             "level and show the worst ratio.", "",
             "| target | where | measured | verdict |", "|---|---|---|---|"]

    def add(target, where, measured, ok):
        lines.append(f"| {target} | {where} | {measured} | {_verdict(ok)} |")

    for users in sizes:
        get = results.get(users, "get_user", "scimlink sqlite", top)
        ceiling = results.get(users, "healthz", "scimlink sqlite", top)
        if get and ceiling and ceiling.rps:
            share = get.rps / ceiling.rps
            add("`GET /Users/{id}` ≥ 40% of `/healthz`", f"SQLite, {users:,} users",
                f"{100 * share:.0f}% ({_num(get.rps)} / {_num(ceiling.rps)} req/s)", share >= 0.40)
        for peer, want in (("scim2-server", 20), ("scimmy", 3)):
            other = results.get(users, "get_user", peer, top)
            if get and other:
                ratio = _ratio(get.rps, other.rps)
                add(f"`GET /Users/{{id}}` ≥ {want}× {peer}", f"SQLite, {users:,} users",
                    f"{ratio:,.1f}×" if ratio else "—", ratio is not None and ratio >= want)
        post = results.get(users, "post_user", "scimlink sqlite", top)
        other = results.get(users, "post_user", "scim2-server", top)
        if post and other:
            ratio = _ratio(post.rps, other.rps)
            add("`POST /Users` ≥ 10× scim2-server", f"SQLite, {users:,} users",
                f"{ratio:,.1f}×" if ratio else "—", ratio is not None and ratio >= 10)
        post = results.get(users, "post_user", "scimlink postgres", top)
        floor = results.get(users, "pgbench_insert", "pgbench", top)
        if post and floor:
            add("`POST /Users` beside pgbench's insert rate", f"PostgreSQL, {users:,} users",
                f"{_num(post.rps)} req/s vs {_num(floor.rps)} tps ({100 * post.rps / floor.rps:.0f}%)", None)

    for backend in ("sqlite", "postgres"):
        server = f"scimlink {backend}"
        where = "SQLite" if backend == "sqlite" else "PostgreSQL"
        if large != small:
            for key, name in (("filter_username", "`userName eq`"), ("filter_email", "work email")):
                worst = _worst(results, args.levels, (small, key, server), (large, key, server))
                if worst:
                    add(f"filter on {name}: p99 at {large:,} ≤ {FLAT}× p99 at {small:,}", where + full_note,
                        f"{worst[0]:.2f}× (at {worst[1]} conns)", worst[0] <= FLAT)
        for users in sizes:
            worst = _worst(results, args.levels, (users, "patch_group_small", server), (users, "patch_group_big", server))
            if worst and min(users, 100_000) == 100_000:
                add(f"PATCH add member: p99 on 100,000 members ≤ {FLAT}× on 10", f"{where}, {users:,} users",
                    f"{worst[0]:.2f}× (at {worst[1]} conns)", worst[0] <= FLAT)
        worst = _worst(results, args.levels, (large, "cursor_first", server), (large, "cursor_last", server))
        if worst:
            add(f"last cursor page: p99 ≤ {FLAT}× first page", f"{where}, {large:,} users{full_note}",
                f"{worst[0]:.2f}× (at {worst[1]} conns)", worst[0] <= FLAT)
        peaks = [r.rss_mb for r in results.rows if r.users == large and r.server == server and r.rss_mb]
        if peaks:
            add("peak memory < 150 MB under load", f"{where}, {large:,} users{full_note}", f"{max(peaks):.0f} MB",
                max(peaks) < 150)
        rows = [r for r in results.rows if r.server == server]
        if rows:
            errors = sum(r.errors for r in rows)
            add("no errors under any workload", where, f"{errors} errors in {len(rows)} runs", errors == 0)
    return lines


def _worst(results, levels, a, b):
    """The largest p99(b) / p99(a) over the levels both ran at, and that level."""
    ratios = []
    for conns in levels:
        x, y = results.get(*a, conns), results.get(*b, conns)
        if x and y and x.p99_ms and y.p99_ms:
            ratios.append((y.p99_ms / x.p99_ms, conns))
    return max(ratios) if ratios else None


def render(rows, args, info, elapsed):
    results = Results(rows)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    levels = ", ".join(str(c) for c in args.levels)
    out = [f"# scimlink load benchmark: {args.mode} run, {now}", "",
           f"- machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, Linux {info['kernel']}; "
           f"load average {info['load']} at the start, {info['load_after']} at the end",
           f"- scimlink {info['scimlink']} ({info.get('build', 'release build')}); {info['postgres']}",
           f"- peers: scim2-server {info['scim2-server']}; scimmy {info['scimmy']}",
           f"- load: {info['wrk']}, one thread, {levels} connections, {args.duration} s per run "
           f"(`POST /Bulk`: at most 2 connections, {args.bulk_duration} s per run); data sizes {', '.join(f'{s:,}' for s in args.sizes)} users; "
           f"peers up to {args.peer_max_users:,} users; whole run {elapsed / 60:.1f} min",
           "- planner statistics: PostgreSQL `VACUUM ANALYZE` after seeding; SQLite: what scimlink gathers "
           "itself when it opens the database (the server is restarted after seeding)",
           "- req/s: completed requests per second; p50/p99: wrk's latency percentiles; errors: socket errors, "
           "timeouts (30 s), HTTP statuses ≥ 400 and failed `/Bulk` operations; peak RSS: the server process's "
           "VmHWM during that run; of /healthz: req/s as a share of `GET /healthz` on the same binary, "
           "database and connections; × peer: scimlink's req/s over the peer's, same workload, size and connections",
           ""]
    out += _targets(results, args)
    out.append("")
    for users in sorted({r.users for r in rows}):
        out += _table(results, users)
        out.append("")
    return "\n".join(out)
