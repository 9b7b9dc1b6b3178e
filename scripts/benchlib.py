"""Shared pieces of scimlink's measurement scripts: run the release binary,
seed users and group memberships straight into its database (SQLite or
PostgreSQL, the same rows the server writes), and time requests."""
import csv
import http.client
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import uuid

# SCIMLINK_BIN: another build to measure (bench/run.sh then does not build).
BIN = os.environ.get("SCIMLINK_BIN") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "scimlink")
NOW = "2026-01-01T00:00:00+00:00"
ACCOUNT_COLUMNS = ("id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower, "
                   "primary_email, primary_email_lower, active, auth_mode, password_hash, break_glass, resource, "
                   "version, created_at, updated_at")


def require_binary():
    if not os.path.exists(BIN):
        raise SystemExit("build the release binary first: cargo build --release")


def cli(db_url, *args):
    out = subprocess.run([BIN, *args], env={**os.environ, "DATABASE_URL": db_url, "RUST_LOG": "warn"},
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def new_uuid():
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


class Database:
    """A fresh database for one run: a SQLite file, or a PostgreSQL database on `pg_admin`."""

    def __init__(self, backend, pg_admin="postgres://postgres@127.0.0.1:5432/postgres"):
        self.backend = backend
        self.tmp = tempfile.TemporaryDirectory()
        if backend == "sqlite":
            self.path = os.path.join(self.tmp.name, "bench.db")
            self.url = f"sqlite://{self.path}?mode=rwc"
        else:
            self.pg_admin = pg_admin
            self.name = f"scimlink_bench_{uuid.uuid4().hex[:12]}"
            subprocess.run(["psql", pg_admin, "-qc", f'CREATE DATABASE "{self.name}"'], check=True)
            self.url = pg_admin.rsplit("/", 1)[0] + "/" + self.name
        cli(self.url, "migrate")
        cli(self.url, "org", "create", "--slug", "bench")
        self.token = cli(self.url, "scim-token", "create", "--org", "bench")
        self.org_id = self.query_one("SELECT id FROM organizations WHERE slug = 'bench'")

    def query_one(self, sql):
        if self.backend == "sqlite":
            return sqlite3.connect(self.path).execute(sql).fetchone()[0]
        out = subprocess.run(["psql", self.url, "-Atqc", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def insert(self, table, columns, rows):
        """Bulk-inserts rows (tuples, None for NULL)."""
        if self.backend == "sqlite":
            con = sqlite3.connect(self.path)
            con.execute("PRAGMA synchronous=OFF")
            marks = ", ".join("?" for _ in columns.split(","))
            con.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            con.commit()
            con.close()
            return
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as f:
            writer = csv.writer(f)
            for row in rows:
                writer.writerow(["\\N" if v is None else v for v in row])
            name = f.name
        try:
            subprocess.run(["psql", self.url, "-qc", f"\\copy {table} ({columns}) FROM '{name}' WITH (FORMAT csv, NULL '\\N')"],
                           check=True)
        finally:
            os.unlink(name)

    def analyze(self):
        if self.backend == "sqlite":
            con = sqlite3.connect(self.path)
            con.execute("ANALYZE")
            con.commit()
        else:
            subprocess.run(["psql", self.url, "-qc", "ANALYZE"], check=True)

    def seed_users(self, n, prefix="user"):
        """n users `{prefix}{i}@example.com`, each with a work email; returns their ids."""
        ids = []
        batch = 20000
        active = 1 if self.backend == "sqlite" else "t"
        inactive = 0 if self.backend == "sqlite" else "f"
        for start in range(0, n, batch):
            accounts, emails = [], []
            for i in range(start, min(n, start + batch)):
                uid = new_uuid()
                ids.append(uid)
                name = f"{prefix}{i}@example.com"
                resource = json.dumps({"userName": name, "name": {"givenName": "User", "familyName": str(i)},
                                       "emails": [{"value": name, "type": "work", "primary": True}], "active": True})
                accounts.append((uid, self.org_id, name, name, None, None, None, name, name, active, "password", None,
                                 inactive, resource, 1, NOW, NOW))
                emails.append((uid, self.org_id, name, name, "work", active))
            self.insert("accounts", ACCOUNT_COLUMNS, accounts)
            self.insert("account_emails", "account_id, org_id, value, value_lower, type_lower, is_primary", emails)
        return ids

    def seed_group(self, name, member_ids):
        gid = new_uuid()
        self.insert("groups", "id, org_id, display_name, display_name_lower, external_id, resource, version, created_at, updated_at",
                    [(gid, self.org_id, name, name.lower(), None, json.dumps({"displayName": name}), 1, NOW, NOW)])
        rows = [(self.org_id, gid, uid, None) for uid in member_ids]
        for start in range(0, len(rows), 50000):
            self.insert("group_members", "org_id, group_id, member_user_id, member_group_id", rows[start:start + 50000])
        return gid

    def close(self, wait=True):
        """Drops the database; `wait=False` returns the dropping process (PostgreSQL's
        DROP DATABASE waits for a checkpoint) for the caller to wait on later."""
        self.tmp.cleanup()
        if self.backend == "postgres":
            drop = subprocess.Popen(["psql", self.pg_admin, "-qc", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'])
            if not wait:
                return drop
            drop.wait()
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, tries=600, process=None):
    """Waits (up to tries x 50 ms) until something accepts connections on `port`."""
    for _ in range(tries):
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def quote(text):
    """Percent-encodes a query parameter value."""
    return urllib.parse.quote(text, safe="")


class Client:
    """Sequential requests over one keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port, token=None):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Content-Type": "application/scim+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, body=None):
        """One request; returns (status, the body parsed as JSON (else its text, or None), milliseconds)."""
        data = None if body is None else json.dumps(body)
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection: the request was not served.
            self.conn.close()
            started = time.perf_counter()
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.conn.close()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return response.status, body, elapsed


class Server(Client):
    """The release binary serving `db` on a free loopback port (`env`: more environment)."""

    def __init__(self, db, env=None):
        port = free_port()
        self.process = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{port}"],
                                        env={**os.environ, "DATABASE_URL": db.url, "RUST_LOG": "warn", **(env or {})},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, process=self.process)
        super().__init__(port, db.token)

    def stop(self):
        self.process.terminate()
        self.process.wait()


def summary(timings, warmup=20):
    """(median, p99, max) in ms, leaving out the first `warmup` samples."""
    kept = sorted(timings[warmup:])
    p99 = kept[min(len(kept) - 1, int(len(kept) * 0.99))]
    return statistics.median(kept), p99, kept[-1]
