#!/usr/bin/env bash
# The load benchmark (bench/README.md): scimlink on SQLite and PostgreSQL beside
# scim2-server and a scimmy server, driven by wrk.
#
#   bench/run.sh            full run: 1,000 / 100,000 / 1,000,000 users (about 40 minutes)
#   bench/run.sh --quick    1,000 and 100,000 users, short runs (under 10 minutes)
#   bench/run.sh --smoke    1,000 users, 1 s runs, peers barely: the CI check that it still works
#
# Other options go to bench/harness.py (--sizes, --levels, --duration, --backends,
# --peers, --peer-max-users, --output). SCIMLINK_BIN=path measures that binary
# instead of building target/release/scimlink.
#
# Installs what it needs into folders it owns (never committed): wrk (apt), a venv
# with scim2-server in target/bench/venv, and scimmy + scimmy-routers + express in
# target/bench/node/node_modules.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/target/bench"
cd "$ROOT"
mkdir -p "$WORK"

SCIM2_SERVER_VERSION=0.8.3
SCIMMY_VERSION=1.3.5
SCIMMY_ROUTERS_VERSION=1.3.2
EXPRESS_VERSION=4.21.2

say() { echo "bench: $*" >&2; }

if ! command -v wrk >/dev/null; then
    say "installing wrk"
    if [ "$(id -u)" != 0 ]; then
        say "wrk is missing: apt-get install -y wrk"
        exit 1
    fi
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

if ! command -v pgbench >/dev/null; then
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/pgbench" ]; then PATH="$PATH:$dir"; fi
    done
fi

PEERS="scim2-server==$SCIM2_SERVER_VERSION scimmy@$SCIMMY_VERSION scimmy-routers@$SCIMMY_ROUTERS_VERSION express@$EXPRESS_VERSION"
if [ "$(cat "$WORK/peers.installed" 2>/dev/null)" != "$PEERS" ]; then
    say "installing the peers: $PEERS"
    rm -rf "$WORK/venv" "$WORK/node"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q --disable-pip-version-check "scim2-server==$SCIM2_SERVER_VERSION"
    mkdir -p "$WORK/node"
    echo '{"name": "scimlink-bench-peers", "private": true}' > "$WORK/node/package.json"
    npm install --prefix "$WORK/node" --save-exact --no-audit --no-fund --loglevel=error \
        "scimmy@$SCIMMY_VERSION" "scimmy-routers@$SCIMMY_ROUTERS_VERSION" "express@$EXPRESS_VERSION" >/dev/null
    echo "$PEERS" > "$WORK/peers.installed"
fi

if [ -z "${SCIMLINK_BIN:-}" ]; then
    say "building the release binary"
    cargo build --release --quiet
fi

export PYTHONDONTWRITEBYTECODE=1
exec python3 "$ROOT/bench/harness.py" "$@"
