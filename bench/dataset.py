"""The data every server in the benchmark holds, and how scimlink gets it fast.

Users `user{i}` for i in [0, users + POOL): `users` is the data size, and the
POOL spare users after them are members of nothing, for the group PATCH
workload to add. Group `small` holds users 0..9, group `big` users
0..min(100,000, users)-1. Every server gets the same ids (`user_id`), names and
attributes, so one list of paths serves them all.

scimlink is seeded by cloning rows the server itself wrote: the harness
creates one template user over HTTP (userName `zqxseed@example.com`) and a
group `big` holding it, then copies, in the database, every row of every
table that points at the template user (accounts, account_emails,
group_members, and whatever a later migration adds, such as an audit event),
once per user. Every column is copied as the server wrote it except the
user's id (computed by `user_id`), an integer `id` (assigned by the
database), another table's text `id` (made unique), and text holding the
token `zqxseed` (which becomes `user{i}`). Columns and tables are read from
the database at run time, so the seeding keeps up with schema changes, and
`check_seeded` then reads a cloned user over HTTP and compares it with the
template. Last, the template user is deleted (over HTTP), so the organisation
holds exactly the users and groups above.
"""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import benchlib  # noqa: E402

TOKEN = "zqxseed"
POOL = 1000
SMALL_GROUP = 10
BIG_GROUP = 100_000
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

# Ids are UUID-shaped and spread over the key space (a multiplicative hash of
# i), so they index like random v4 ids, yet each server, the SQL below and the
# Node peer (bench/peers/scimmy-server.cjs) compute the same ones.
ID_MULTIPLIER = 2654435761
SQLITE_ID = f"printf('%08x-0000-4000-8000-%012x', (i * {ID_MULTIPLIER}) % 4294967296, i)"
POSTGRES_ID = (f"lpad(to_hex((i * {ID_MULTIPLIER}::bigint) % 4294967296), 8, '0') || '-0000-4000-8000-' "
               "|| lpad(to_hex(i::bigint), 12, '0')")


def user_id(i):
    return f"{(i * ID_MULTIPLIER) % 2**32:08x}-0000-4000-8000-{i:012x}"


def user_name(i):
    return f"user{i}"


def user_resource(name):
    """The SCIM body of user `name` (the template is `user_resource(TOKEN)`)."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"{name}@example.com",
        "externalId": f"ext-{name}",
        "name": {"givenName": "User", "familyName": name},
        "displayName": f"User {name}",
        "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
        "active": True,
    }


def group_resource(name, member_ids):
    return {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in member_ids]}


def big_group_size(users):
    return min(BIG_GROUP, users)


def spec(users):
    """What a peer needs to seed itself (bench/peers/*)."""
    return {"token": TOKEN, "template": user_resource(TOKEN), "users": users + POOL,
            "small": SMALL_GROUP, "big": big_group_size(users), "id_multiplier": ID_MULTIPLIER}


# --- scimlink: clone server-written rows in the database --------------------------------

def _psql(db, sql, *flags):
    out = subprocess.run(["psql", db.url, "-v", "ON_ERROR_STOP=1", "-Atq", *flags, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout


def execute(db, sql):
    if db.backend == "sqlite":
        con = sqlite3.connect(db.path, timeout=60)
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(sql)
        con.commit()
        con.close()
    else:
        _psql(db, sql)


def _columns(db, table):
    """{column: type} (PostgreSQL's data_type; SQLite's declared type, lower-cased)."""
    if db.backend == "sqlite":
        con = sqlite3.connect(db.path)
        types = {r[1]: r[2].lower() for r in con.execute(f'PRAGMA table_info("{table}")')}
        con.close()
        return types
    out = _psql(db, f"SELECT column_name, data_type FROM information_schema.columns "
                    f"WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position", "-F", "\t")
    return dict(line.split("\t", 1) for line in out.splitlines() if line.strip())


def _where(columns, value):
    literal = value.replace("'", "''")
    return " OR ".join(f"t.\"{c}\" = '{literal}'" for c in columns)


def _rows(db, table, where):
    """The rows of `table` (aliased t) matching `where`, as dicts."""
    if db.backend == "sqlite":
        con = sqlite3.connect(db.path)
        cur = con.execute(f'SELECT * FROM "{table}" t WHERE {where}')
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        con.close()
        return rows
    out = _psql(db, f'SELECT row_to_json(t) FROM "{table}" t WHERE {where}')
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _tables_pointing_at(db, value):
    """{table: [columns]} of the text columns holding `value`."""
    literal = value.replace("'", "''")
    if db.backend == "sqlite":
        con = sqlite3.connect(db.path)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        pairs = [(t, c) for t in tables for c in _columns(db, t)]
        found = [(t, c) for t, c in pairs if con.execute(f'SELECT 1 FROM "{t}" WHERE "{c}" = ? LIMIT 1', (value,)).fetchone()]
        con.close()
    else:
        out = _psql(db, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                        "AND data_type IN ('text', 'character varying')", "-F", "\t")
        pairs = [tuple(line.split("\t")) for line in out.splitlines() if line.strip()]
        probes = " UNION ALL ".join(
            f"SELECT '{t}\t{c}' FROM \"{t}\" WHERE \"{c}\" = '{literal}'" for t, c in pairs)
        found = [tuple(line.split("\t")) for line in set(_psql(db, probes).splitlines()) if line.strip()]
    tables = {}
    for t, c in found:
        tables.setdefault(t, []).append(c)
    return tables


def _clone_sql(db, table, match_columns, template_id, start, stop):
    """INSERT ... SELECT copying the rows of `table` that point at the template
    user once per i in [start, stop), as user i's."""
    where = _where(match_columns, template_id)
    rows = _rows(db, table, where)
    types = _columns(db, table)
    id_expr = SQLITE_ID if db.backend == "sqlite" else POSTGRES_ID
    literal = template_id.replace("'", "''")
    columns, exprs = [], []
    for col in types:
        values = [r[col] for r in rows]
        if col == "id" and all(isinstance(v, int) for v in values):
            continue  # an autoincrement key: the database assigns it
        if col == "id" and table != "accounts":
            expr = f"t.\"id\" || '-' || i"  # another table's own text key: unique per template row and i
        elif template_id in values:
            expr = f"CASE WHEN t.\"{col}\" = '{literal}' THEN {id_expr} ELSE t.\"{col}\" END"
        elif any(isinstance(v, str) and TOKEN in v for v in values):
            expr = f"replace(t.\"{col}\", '{TOKEN}', 'user' || i)"
            if db.backend == "postgres" and types[col] not in ("text", "character varying"):
                expr = f"replace(t.\"{col}\"::text, '{TOKEN}', 'user' || i)::{types[col]}"
        else:
            expr = f't."{col}"'
        columns.append(f'"{col}"')
        exprs.append(expr)
    if db.backend == "sqlite":
        head = f"WITH RECURSIVE seq(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM seq WHERE i < {stop - 1}) "
        source = "seq"
    else:
        head = ""
        source = f"generate_series({start}, {stop - 1}) AS seq(i)"
    return (f'{head}INSERT INTO "{table}" ({", ".join(columns)}) SELECT {", ".join(exprs)} '
            f'FROM {source}, "{table}" t WHERE {where}')


def _clone(db, table, match_columns, template_id, count, batch=100_000, log=print):
    for start in range(0, count, batch):
        stop = min(count, start + batch)
        execute(db, _clone_sql(db, table, match_columns, template_id, start, stop))
        if count > batch:
            log(f"    {table}: {stop:,} / {count:,}")


def seed_scimlink(db, client, users, log=print):
    """Seeds `users` users (+ POOL spare) and the two groups into a running
    scimlink on `db`; `client` is a benchlib.Client with the bench org's token.

    Then PostgreSQL gets VACUUM ANALYZE, the state autovacuum leaves a table
    in. SQLite gets none here: scimlink gathers its statistics itself when it
    opens the database (store::statistics), as it does after any restart."""
    status, body, _ = client.request("POST", "/scim/v2/Users", user_resource(TOKEN))
    if status != 201:
        raise SystemExit(f"seeding: creating the template user answered {status}: {body}")
    template = body["id"]
    status, body, _ = client.request("POST", "/scim/v2/Groups", group_resource("big", [template]))
    if status != 201:
        raise SystemExit(f"seeding: creating group big answered {status}: {body}")
    tables = _tables_pointing_at(db, template)
    others = sorted(set(tables) - {"accounts", "group_members"})
    if set(others) - {"account_emails"}:
        log(f"    a created user also has rows in {others}: cloned the same way")
    # accounts first: PostgreSQL checks the other tables' foreign keys.
    _clone(db, "accounts", ["id"], template, users + POOL, log=log)
    for table in others:
        _clone(db, table, tables[table], template, users + POOL, log=log)
    _clone(db, "group_members", tables["group_members"], template, big_group_size(users), log=log)
    status, body, _ = client.request("POST", "/scim/v2/Groups",
                                     group_resource("small", [user_id(i) for i in range(SMALL_GROUP)]))
    if status != 201:
        raise SystemExit(f"seeding: creating group small answered {status}: {body}")
    if db.backend == "sqlite":
        execute(db, "PRAGMA wal_checkpoint(TRUNCATE);")
    else:
        _psql(db, "VACUUM ANALYZE")
    check_seeded(client, template)
    status, body, _ = client.request("DELETE", f"/scim/v2/Users/{template}")
    if status != 204:
        raise SystemExit(f"seeding: deleting the template user answered {status}: {body}")


def check_seeded(client, template):
    """A cloned user reads back exactly as the template does, but for its name and id."""
    _, want, _ = client.request("GET", f"/scim/v2/Users/{template}")
    status, got, _ = client.request("GET", f"/scim/v2/Users/{user_id(0)}")

    def strip(resource):
        return {k: v for k, v in resource.items() if k not in ("id", "meta", "groups")}

    expected = json.loads(json.dumps(strip(want)).replace(TOKEN, user_name(0)))
    if status != 200 or strip(got) != expected:
        raise SystemExit(f"seeding: a cloned user differs from the template\n want {expected}\n got  {got}")
    status, page, _ = client.request(
        "GET", "/scim/v2/Users?filter=" + benchlib.quote(f'emails[type eq "work"].value eq "{user_name(0)}@example.com"'))
    if status != 200 or page.get("totalResults") != 1:
        raise SystemExit(f"seeding: the email filter does not find a cloned user: {status} {page}")
