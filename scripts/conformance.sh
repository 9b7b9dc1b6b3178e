#!/usr/bin/env bash
# SCIM conformance of scimlink, checked by two third-party suites:
#
#   scim2-tester, through scim2-cli's `scim2 test`
#   scim-sanity's `probe ... --i-accept-side-effects`
#
# Each suite runs against the release binary on a temporary SQLite database
# and on a throwaway PostgreSQL database, with a token made by the CLI. The
# suites come from a virtual environment in target/conformance-venv with
# pinned versions (installed only when the pins are not already there).
#
# It prints `suite: N passed, N failed, N skipped` per backend and suite,
# names every failure, and exits non-zero when a failure is not one of the
# deliberate deviations listed in docs/conformance.md (the `deviations` block
# there), or when the server answered any request with a 5xx.
#
# Environment:
#   SCIMLINK_BIN                    binary to test (default: `cargo build --release`)
#   SCIMLINK_CONFORMANCE_BACKENDS   "sqlite postgres" (default), or one of them
#   SCIMLINK_CONFORMANCE_PG_URL     PostgreSQL admin URL
#                                   (default: $SCIMLINK_CI_PG_URL or
#                                   postgres://postgres@127.0.0.1:5432/postgres)
#   PYTHON                          interpreter for the venv (default: python3)
#
# Output: target/conformance/<backend>/ keeps each suite's raw output and the
# server log; target/conformance/results.md is the results table for
# docs/conformance.md.
set -euo pipefail
# A relative SCIMLINK_BIN is relative to the caller's directory.
case "${SCIMLINK_BIN:-}" in
  */*) SCIMLINK_BIN="$(cd "$(dirname "$SCIMLINK_BIN")" && pwd)/$(basename "$SCIMLINK_BIN")" ;;
esac
cd "$(dirname "$0")/.."

VENV=target/conformance-venv
OUT=target/conformance
DOC=docs/conformance.md
BACKENDS="${SCIMLINK_CONFORMANCE_BACKENDS:-sqlite postgres}"
PG_ADMIN_URL="${SCIMLINK_CONFORMANCE_PG_URL:-${SCIMLINK_CI_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
SUITE_TIMEOUT=300

# The suites and everything they pull in, pinned (pip freeze of a clean venv).
PINS="
scim2-cli==0.6.0
scim2-tester==0.5.2
scim-sanity==0.7.4
scim2-client==0.13.2
scim2-models==0.12.3
annotated-types==0.8.0
anyio==4.16.0
click==8.5.1
colorama==0.4.6
dnspython==2.9.2
docutils==0.23
email-validator==2.4.0
h11==0.16.0
httpcore2==2.16.2
httpx2==2.16.2
idna==3.20
lark==1.3.1
pydanclick==0.5.1
pydantic==2.14.3
pydantic_core==2.50.4
Pygments==2.21.0
sphinx-click-rst-to-ansi-formatter==0.2.0
truststore==0.10.5
typing-inspection==0.4.5
typing_extensions==4.16.0
"

step() { printf '\n==> %s\n' "$*"; }
die() { echo "conformance: $*" >&2; exit 2; }

# --- cleanup: servers we started, databases we made -------------------------
SERVER_PID=""
PG_DB=""
TMP_DIRS=()
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
drop_pg_db() {
  if [ -n "$PG_DB" ]; then
    PGOPTIONS=--client-min-messages=warning psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "warning: could not drop database $PG_DB" >&2
    PG_DB=""
  fi
}
cleanup() {
  stop_server
  drop_pg_db
  for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary --------------------------------------------------------------
if [ -n "${SCIMLINK_BIN:-}" ]; then
  BIN="$SCIMLINK_BIN"
else
  step "cargo build --release"
  cargo build --release
  BIN="${CARGO_TARGET_DIR:-target}/release/scimlink"
fi
[ -x "$BIN" ] || die "no executable at $BIN"

# --- the virtual environment -------------------------------------------------
step "virtual environment $VENV"
PY_BASE="${PYTHON:-python3}"
PY="$VENV/bin/python"
pins_installed() {
  [ -x "$PY" ] && printf '%s\n' "$PINS" | "$PY" -c '
import sys
from importlib.metadata import version, PackageNotFoundError
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
' 2>/dev/null
}
if pins_installed; then
  echo "pinned suites already installed"
else
  if ! [ -x "$PY" ] || ! "$PY" -c 'import sys' 2>/dev/null; then
    rm -rf "$VENV"
    "$PY_BASE" -m venv "$VENV"
  fi
  printf '%s\n' "$PINS" >"$VENV/conformance-requirements.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install --quiet \
    -r "$VENV/conformance-requirements.txt"
  pins_installed || die "the pinned versions did not install"
fi
SCIM2="$VENV/bin/scim2"
SANITY="$VENV/bin/scim-sanity"

# --- result evaluation (suite output -> counts, failures, deviations) --------
# Usage: eval SUITE BACKEND RAW_OUTPUT EXIT_CODE SERVER_LOG SUMMARY_TSV
#        server BACKEND SERVER_LOG SUMMARY_TSV
#        final SUMMARY_TSV RESULTS_MD
EVAL_PY="$(cat <<'PY'
import json, re, sys

DOC = "docs/conformance.md"

def deviations():
    """The ```deviations block of docs/conformance.md:
    ID | suite | check | Python regex searched in the failure message."""
    out, inside = [], False
    with open(DOC, encoding="utf-8") as f:
        for line in f:
            s = line.rstrip("\n")
            if s.strip().startswith("```"):
                if inside:
                    break
                inside = s.strip() == "```deviations"
                continue
            if not inside or not s.strip() or s.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in s.split(" | ", 3)]
            if len(parts) != 4:
                sys.exit(f"{DOC}: bad deviation line: {s!r}")
            out.append(dict(id=parts[0], suite=parts[1], check=parts[2],
                            regex=re.compile(parts[3])))
    return out

STATUS = {"SUCCESS": "pass", "COMPLIANT": "pass", "ACCEPTABLE": "pass",
          "DEVIATION": "fail", "ERROR": "fail", "CRITICAL": "fail",
          "SKIPPED": "skip"}

def parse_scim2_tester(text):
    """`scim2 test` prints `STATUS title`, then the reason indented by two
    spaces (its later lines are not indented)."""
    results, cur = [], None
    line_re = re.compile(r"^(" + "|".join(STATUS) + r") (.*)$")
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            cur = dict(check=m.group(2).strip(), status=m.group(1),
                       outcome=STATUS[m.group(1)], lines=[])
            results.append(cur)
        elif cur is not None:
            cur["lines"].append(line[2:] if line.startswith("  ") else line)
    for r in results:
        r["message"] = "\n".join(r.pop("lines")).strip()
    return results

def parse_scim_sanity(text):
    data = json.loads(text)
    outcome = {"pass": "pass", "skip": "skip"}
    return [dict(check=r["name"], status=r["status"].upper(),
                 outcome=outcome.get(r["status"], "fail"),
                 message=(r.get("message") or "").strip())
            for r in data["results"]]

def append(summary, row):
    with open(summary, "a", encoding="utf-8") as f:
        f.write("\t".join(str(x) for x in row) + "\n")

def show(msg, limit=6):
    lines = msg.splitlines() or [""]
    cut = [l if len(l) <= 300 else l[:300] + " ..." for l in lines[:limit]]
    if len(lines) > limit:
        cut.append("...")
    return "\n".join("        " + l for l in cut)

def cmd_eval(suite, backend, raw, rc, summary):
    rc = int(rc)
    text = open(raw, encoding="utf-8", errors="replace").read()
    try:
        results = (parse_scim2_tester if suite == "scim2-tester"
                   else parse_scim_sanity)(text)
    except Exception as exc:
        results, why = [], f"unreadable output: {exc}"
    else:
        why = "no results in its output"
    crashed = not results or rc not in (0, 1)
    if crashed:
        why = why if not results else f"exit code {rc}"
    devs = [d for d in deviations() if d["suite"] == suite]
    passed = sum(r["outcome"] == "pass" for r in results)
    failed = [r for r in results if r["outcome"] == "fail"]
    skipped = sum(r["outcome"] == "skip" for r in results)
    print(f"{suite}: {passed} passed, {len(failed)} failed, {skipped} skipped")
    undocumented, seen = 0, []
    for r in failed:
        hit = next((d for d in devs if d["check"] == r["check"]
                    and d["regex"].search(r["message"])), None)
        if hit:
            seen.append(hit["id"])
            print(f"    FAIL {r['check']} ({r['status']}) - documented deviation {hit['id']}")
        else:
            undocumented += 1
            print(f"    FAIL {r['check']} ({r['status']}) - NOT a documented deviation")
            print(show(r["message"]))
    if crashed:
        undocumented += 1
        print(f"    {suite} did not run to the end ({why}); last lines of {raw}:")
        print(show("\n".join(text.splitlines()[-15:]), 15))
    append(summary, [backend, suite, passed, len(failed), skipped,
                     len(seen), undocumented,
                     ",".join(sorted(set(seen))) or "-"])

def cmd_server(backend, log, summary):
    """Every request the server answered with a 5xx, and any panic."""
    req = re.compile(r"middleware\] ([A-Z]+) (\S+) (\d{3}) ")
    total, bad = 0, []
    for line in open(log, encoding="utf-8", errors="replace"):
        m = req.search(line)
        if m:
            total += 1
            if m.group(3).startswith("5"):
                bad.append(line.rstrip())
        elif "panicked" in line:
            bad.append(line.rstrip())
    print(f"server: {total} requests logged, {len(bad)} answered 5xx or panicked")
    for l in bad[:20]:
        print("    " + l)
    append(summary, [backend, "server-5xx", total - len(bad), len(bad), 0, 0,
                     len(bad), "-"])

def cmd_final(summary, results_md):
    rows = [l.rstrip("\n").split("\t") for l in open(summary, encoding="utf-8")]
    undocumented = sum(int(r[6]) for r in rows)
    seen = {i for r in rows for i in r[7].split(",") if i != "-"}
    md = ["| backend | suite | passed | failed | skipped | documented deviations | undocumented failures |",
          "| --- | --- | ---: | ---: | ---: | --- | ---: |"]
    for b, s, p, f, sk, doc, und, ids in rows:
        md.append(f"| {b} | {s} | {p} | {f} | {sk} | {ids if ids != '-' else '—'} | {und} |")
    with open(results_md, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    stale = [d["id"] for d in deviations() if d["id"] not in seen]
    if stale:
        print(f"\nnote: documented deviations not seen in this run: {', '.join(stale)}"
              f" (fixed? then remove them from {DOC})")
    if undocumented:
        print(f"\nconformance: FAILED, {undocumented} failure(s) not documented in {DOC}")
        sys.exit(1)
    print(f"\nconformance: OK, every failure is a deviation documented in {DOC}")

cmd, args = sys.argv[1], sys.argv[2:]
{"eval": cmd_eval, "server": cmd_server, "final": cmd_final}[cmd](*args)
PY
)"
evaluate() { "$PY" -c "$EVAL_PY" "$@"; }

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- PostgreSQL ---------------------------------------------------------------
ensure_postgres() {
  pg_isready -h 127.0.0.1 -p 5432 -q && return 0
  echo "PostgreSQL is not answering; starting it"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && return 0
    sleep 1
  done
  die "PostgreSQL is not reachable at 127.0.0.1:5432 (set SCIMLINK_CONFORMANCE_BACKENDS=sqlite to skip it)"
}

# --- one backend: database, token, server, both suites -----------------------
SUMMARY="$OUT/summary.tsv"
rm -rf "$OUT"
mkdir -p "$OUT"
: >"$SUMMARY"

run_backend() {
  local backend="$1" dir="$OUT/$1" db_url port base token rc
  mkdir -p "$dir"
  step "$backend: database, token, server"
  case "$backend" in
    sqlite)
      local tmp
      tmp="$(mktemp -d)"
      TMP_DIRS+=("$tmp")
      db_url="sqlite://$tmp/conformance.db?mode=rwc"
      ;;
    postgres)
      ensure_postgres
      PG_DB="scimlink_conformance_$$"
      PGOPTIONS=--client-min-messages=warning psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null
      psql "$PG_ADMIN_URL" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
      db_url="${PG_ADMIN_URL%/*}/$PG_DB"
      ;;
    *) die "unknown backend $backend" ;;
  esac

  "$BIN" --database-url "$db_url" migrate 2>>"$dir/cli.log" >/dev/null
  "$BIN" --database-url "$db_url" org create --slug conformance 2>>"$dir/cli.log" >/dev/null
  token="$("$BIN" --database-url "$db_url" scim-token create --org conformance --label conformance 2>>"$dir/cli.log")"
  [ -n "$token" ] || die "$backend: scim-token create printed no token (see $dir/cli.log)"

  port="$(free_port)"
  base="http://127.0.0.1:$port/scim/v2"
  "$BIN" --database-url "$db_url" serve --bind "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  local ready=""
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$base/ServiceProviderConfig" 2>/dev/null; then
      ready=1
      break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ready" ] || { tail -20 "$dir/server.log" >&2; die "$backend: the server did not come up"; }
  echo "scimlink serving $base (pid $SERVER_PID)"

  step "$backend: scim2 test (scim2-tester)"
  rc=0
  SCIM_CLI_HEADERS="Authorization: Bearer $token" \
    timeout "$SUITE_TIMEOUT" "$SCIM2" --url "$base" test >"$dir/scim2-tester.txt" 2>&1 || rc=$?
  evaluate eval scim2-tester "$backend" "$dir/scim2-tester.txt" "$rc" "$SUMMARY"

  step "$backend: scim-sanity probe"
  rc=0
  timeout "$SUITE_TIMEOUT" "$SANITY" probe "$base" --token "$token" \
    --i-accept-side-effects --json-output >"$dir/scim-sanity.json" 2>"$dir/scim-sanity.stderr" || rc=$?
  evaluate eval scim-sanity "$backend" "$dir/scim-sanity.json" "$rc" "$SUMMARY"

  stop_server
  evaluate server "$backend" "$dir/server.log" "$SUMMARY"
  [ "$backend" = postgres ] && drop_pg_db
  return 0
}

for backend in $BACKENDS; do
  run_backend "$backend"
done

step "summary"
evaluate final "$SUMMARY" "$OUT/results.md"
