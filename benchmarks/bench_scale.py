"""Scale benchmark: 1,000,000 footprints in PostgreSQL, a real `pcf serve` (TLS), 16 concurrent clients.

Creates a database of its own on the local server (127.0.0.1:5432, dropped at the end unless --keep), makes the
node's schema with the node's own code, and bulk-loads footprints with COPY (psycopg 3, the project's driver) into
`footprints`, `footprint_keys` and `shares` (then `footprint_listing`, by the node's own `refresh_listing`): many
companies, products, classifications and countries, both statuses, validity periods spread over years, a few per
cent public and the rest shared with a few of 20 organisations or with none. Each footprint's PACT v3 and v2 JSON
come from one document the node's own marshalling made, with its id, product, company, classification, country,
status and dates set per row (so every row is valid PACT). Then:
  - the node's tables and indexes read into memory, PostgreSQL's buffers when they fit (pg_prewarm: `prewarm`
    says why, and what to set when they do not; --no-prewarm to measure without);
  - EXPLAIN (ANALYZE) of each query shape the API runs (captured from the node's store code, not written here);
  - `pcf serve --self-signed` on that database, and 16 concurrent keep-alive clients (wrk, the Debian package, with a
    Lua script cycling through each kind's paths) doing list (every v3 filter, v2 `$filter`) and get by id;
    p50/p95/p99 per query kind (target p99 < 50 ms);
  - the same clients against a trivial Flask app returning a list page's and a get's bytes under the node's server
    set-up (bench_node's baseline): the floor this machine sets for any Python node under this load;
  - beside each kind's clients, a probe request every 100 ms and the machine's iowait and disk reads each second
    (stalls.py): every probe that waited over 250 ms is listed with what the machine did meanwhile; and beside
    them a `SELECT 1` to PostgreSQL every 10 ms on a connection of its own, and a 1 ms sleeper (the database's and
    the scheduler's stalls, told apart from the node's);
  - the RSS of the server's processes before and after the requests, and after each of several further passes over
    every kind (flat means it levels off: nothing grows with use once the pools and allocator arenas are warm).
Talks only to 127.0.0.1. About 10 minutes on 2 cores: `make bench-scale`, not part of `make bench`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_node import start_trivial  # noqa: E402
from bench_pact import realistic_footprints  # noqa: E402
from stalls import StallWatch  # noqa: E402

from exchange.node.cursors import KEY_NAME as CURSOR_KEY_NAME  # noqa: E402
from exchange.node.cursors import CursorSeal, listing_of, new_key  # noqa: E402
from exchange.node.records import footprint_record  # noqa: E402
from exchange.node.storage import Filters, NodeStore, micros, refresh_listing, serial_plans  # noqa: E402
from exchange.pact import to_v3  # noqa: E402
from exchange.pact.disclosure import SUMMARY, disclosed  # noqa: E402
from tests.support.node import add_clients, start_node  # noqa: E402
from tests.support.plans import generic_plan, statements_of  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
ORGS = [f"Org{n:02d}" for n in range(1, 21)]
CLIENT_ORG = ORGS[0]
COUNTRIES = ("DE FR IT ES NL BE AT PL CZ SE FI DK IE PT GR HU RO BG SK SI HR LT LV EE LU CH NO GB US CA MX BR AR CL CO "
             "PE CN JP KR IN ID TH VN MY PH SG AU NZ ZA EG MA NG KE TR SA AE IL RU UA KZ PK BD").split()
# values of one document the node's marshalling makes, replaced per row (each slot must occur in both JSON forms)
SENTINEL = {
    "id": "5e171e1e-5e17-4e1e-8e17-5e171e1e5e17",
    "product": "urn:pact:product:sentinel-product",
    "company": "urn:pact:company:sentinel-company",
    "classification": "urn:pact:productclassification:un-cpc:99999",  # v2 writes it as productCategoryCpc
    "created": datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
    "start": datetime(2002, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
    "end": datetime(2003, 4, 5, 6, 7, 8, tzinfo=timezone.utc),
}
DAY = timedelta(days=1)
EPOCH_START = datetime(2018, 1, 1, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------- the data

def _copy_escape(text: str) -> str:
    """COPY text format: backslash, tab and newline are the only characters to escape (JSON has no raw tab/NL)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def templates() -> tuple[str, str, dict[str, str]]:
    """(v3 row, v2 row, time slots): the node's own JSON of one footprint, COPY-escaped, with %(name)s slots; time
    slots are named `created__N`, `start__N`, `end__N`, each with the strftime pattern its version writes."""
    base = realistic_footprints(1, seed=3)[0]
    footprint = dataclasses.replace(
        base, id=SENTINEL["id"], product_ids=(SENTINEL["product"],), company_ids=(SENTINEL["company"],),
        product_classifications=(SENTINEL["classification"],), geography_country="ZW", geography_country_subdivision=None,
        created=SENTINEL["created"], validity_period_start=SENTINEL["start"], validity_period_end=SENTINEL["end"])
    record = footprint_record(to_v3(disclosed(footprint, SUMMARY)))  # what a footprints row holds (issue 15)
    time_slots: dict[str, str] = {}
    rendered = []
    for document in (record.v3_json, record.v2_json):
        text = _copy_escape(document).replace("%", "%%")
        for literal, slot in ((SENTINEL["id"], "%(id)s"), (SENTINEL["product"], "%(product)s"),
                              (SENTINEL["company"], "%(company)s"), ("un-cpc:99999", "un-cpc:%(cpc)s"),
                              ('"productCategoryCpc":"99999"', '"productCategoryCpc":"%(cpc)s"'),
                              ('"ZW"', '"%(country)s"'), ('"status":"Active"', '"status":"%(status)s"')):
            text = text.replace(literal, slot)
        for slot in ("id", "product", "company", "cpc", "country", "status"):
            assert f"%({slot})s" in text, (slot, document[:300])
        for name in ("created", "start", "end"):  # however each version writes a time, the rows write it alike
            moment = SENTINEL[name]
            found = set(re.findall(rf'"({moment:%Y-%m-%d}T[^"]*)"', text))
            assert found, (name, document[:300])
            for written in found:
                pattern = written
                for code in "YmdHMS":
                    pattern = pattern.replace(moment.strftime(f"%{code}"), f"%{code}", 1)
                assert moment.strftime(pattern) == written, (written, pattern)
                slot = f"{name}__{len(time_slots)}"
                time_slots[slot] = pattern.replace("%", "%%")
                text = text.replace(f'"{written}"', f'"%({slot})s"')
        rendered.append(text)
    return rendered[0], rendered[1], {slot: pattern.replace("%%", "%") for slot, pattern in time_slots.items()}


@dataclasses.dataclass
class Loaded:
    count: int
    seconds: float
    visible: list[tuple[str, str, str, str]]  # (id, product, company, classification) of footprints CLIENT_ORG sees
    max_seq: int


def load(db_url: str, count: int, seed: int) -> Loaded:
    """COPY `count` footprints (with their keys and shares) into the node's tables; secondary indexes are dropped
    first and rebuilt after, as a bulk load should."""
    v3_template, v2_template, time_slots = templates()
    rng = random.Random(seed)
    products, companies, classes = 200_000, 5_000, 1_000
    visible: list[tuple[str, str, str, str]] = []
    started = time.perf_counter()
    with psycopg.connect(db_url, autocommit=True) as admin:
        kept = admin.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = current_schema() AND tablename IN "
            "('footprints', 'footprint_keys', 'shares', 'footprint_listing') AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").fetchall()
        for name, _ in kept:
            admin.execute(f'DROP INDEX "{name}"')
    connections = [psycopg.connect(db_url) for _ in range(3)]
    for connection in connections:
        connection.execute("SET session_replication_role = replica")  # foreign keys hold by construction
    with connections[0].cursor().copy(
            "COPY footprints (seq, id, status, created_us, validity_start_us, validity_end_us, public, v3_json, v2_json) "
            "FROM STDIN") as pf_copy, \
            connections[1].cursor().copy("COPY footprint_keys (seq, kind, value) FROM STDIN") as key_copy, \
            connections[2].cursor().copy("COPY shares (seq, org) FROM STDIN") as share_copy:
        pf_rows, key_rows, share_rows = [], [], []
        for seq in range(1, count + 1):
            product = rng.randrange(products)
            values = {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "product": f"urn:pact:product:bench:{product}",
                "company": f"urn:pact:company:bench:{product % companies}",
                "cpc": str(10_000 + product % classes),
                "country": rng.choice(COUNTRIES),
                "status": "Deprecated" if rng.random() < 0.1 else "Active",
            }
            start = EPOCH_START + DAY * rng.randrange(8 * 365)
            end = start + DAY * rng.randrange(365, 3 * 365)
            created = start - DAY * rng.randrange(60) + timedelta(seconds=rng.randrange(86_400))
            moments = {"created": created, "start": start, "end": end}
            for slot, pattern in time_slots.items():
                values[slot] = moments[slot.split("__")[0]].strftime(pattern)
            draw = rng.random()
            public = draw < 0.02
            orgs = [] if public or draw >= 0.6 else rng.sample(ORGS, 1 if draw < 0.5 else 2)
            pf_rows.append(f"{seq}\t{values['id']}\t{values['status']}\t{micros(created)}\t{micros(start)}\t"
                           f"{micros(end)}\t{'t' if public else 'f'}\t{v3_template % values}\t{v2_template % values}\n")
            for kind, value in (("product", values["product"]), ("company", values["company"]),
                                ("classification", f"urn:pact:productclassification:un-cpc:{values['cpc']}"),
                                ("geography", values["country"])):
                key_rows.append(f"{seq}\t{kind}\t{value.lower()}\n")
            for org in orgs:
                share_rows.append(f"{seq}\t{org}\n")
            if (public or CLIENT_ORG in orgs) and len(visible) < 20_000:
                visible.append((values["id"], values["product"], values["company"],
                                f"urn:pact:productclassification:un-cpc:{values['cpc']}"))
            if len(pf_rows) == 2_000:
                pf_copy.write("".join(pf_rows))
                key_copy.write("".join(key_rows))
                share_copy.write("".join(share_rows))
                pf_rows, key_rows, share_rows = [], [], []
        pf_copy.write("".join(pf_rows))
        key_copy.write("".join(key_rows))
        share_copy.write("".join(share_rows))
    for connection in connections:
        connection.commit()
        connection.close()
    copied = time.perf_counter() - started
    store = NodeStore(db_url)
    with store.engine.begin() as connection:  # the listing rows, by the node's own code (as `pcf node init` does)
        refresh_listing(connection)
    store.dispose()
    listed = time.perf_counter() - started - copied
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SET maintenance_work_mem = '512MB'")
        for _, ddl in kept:
            admin.execute(ddl)
        admin.execute("SELECT setval(pg_get_serial_sequence('footprints', 'seq'), %s)", (count,))
        admin.execute("VACUUM (ANALYZE) footprints")
        admin.execute("VACUUM (ANALYZE) footprint_keys")
        admin.execute("VACUUM (ANALYZE) shares")
        admin.execute("VACUUM (ANALYZE) footprint_listing")
    seconds = time.perf_counter() - started
    print(f"loaded {count:,} footprints in {seconds:.0f} s (COPY {copied:.0f} s, listing rows {listed:.0f} s, indexes "
          f"and VACUUM ANALYZE {seconds - copied - listed:.0f} s); {CLIENT_ORG} sees "
          f"{len(visible):,}{'+' if len(visible) == 20_000 else ''} of them")
    return Loaded(count, seconds, visible, count)


def loaded_before(db_url: str) -> Loaded:
    """What `load` returns, read back from a database a run with --keep loaded (for --reuse)."""
    with psycopg.connect(db_url) as connection:
        count = connection.execute("SELECT count(*) FROM footprints").fetchone()[0]
        visible = connection.execute(
            "SELECT f.id, max(k.value) FILTER (WHERE k.kind = 'product'), max(k.value) FILTER (WHERE k.kind = 'company'), "
            "max(k.value) FILTER (WHERE k.kind = 'classification') FROM footprints f JOIN footprint_keys k ON k.seq = f.seq "
            "WHERE f.public OR EXISTS (SELECT 1 FROM shares s WHERE s.seq = f.seq AND s.org = %s) "
            "GROUP BY f.seq, f.id ORDER BY f.seq LIMIT 20000", (CLIENT_ORG,)).fetchall()
    print(f"reusing {count:,} footprints loaded before; {CLIENT_ORG} sees {len(visible):,}+ of them")
    return Loaded(count, 0.0, [tuple(row) for row in visible], count)


# ---------------------------------------------------------------------------------------------- the memory

DAMON = Path("/sys/kernel/mm/damon/admin/kdamonds")
_NODE_RELATIONS = """
WITH tables AS (SELECT oid, reltoastrelid FROM pg_class WHERE relnamespace = current_schema()::regnamespace
                AND relkind = 'r')
SELECT oid FROM tables
UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM tables)
UNION ALL SELECT reltoastrelid FROM tables WHERE reltoastrelid <> 0
UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT reltoastrelid FROM tables)"""


def reclaims_idle_page_cache() -> bool:
    """Does this kernel run a DAMON scheme that pages out memory left idle (Linux DAMON sysfs: a kdamond `on` with a
    `pageout` action)? Some virtual machines do, this project's among them, to hand idle memory back to the host."""
    for state in DAMON.glob("*/state"):
        if state.read_text().strip() == "on" and any(
                action.read_text().strip() == "pageout" for action in state.parent.glob("contexts/*/schemes/*/action")):
            return True
    return False


def prewarm(db_url: str) -> None:
    """Read the node's tables and indexes (their TOAST included) into PostgreSQL's own buffers with pg_prewarm (a
    module shipped with PostgreSQL) when they fit, else into the kernel's page cache, and say which.

    Why: a page in neither is read from disk, and a request that waits for a burst of such reads waits up to a
    second. A server that has served its clients for a while holds its hot pages; this holds them from the start,
    so the run measures the node serving rather than the first minutes after a restart. The page cache is not
    enough on every machine: a kernel that pages out idle memory (DAMON, `reclaims_idle_page_cache`) drops the pages
    no request touched for about a minute, and at a million footprints most are touched less often than that. Only
    `shared_buffers` (PostgreSQL's shared memory, which nothing pages out without swap) then keeps the database in
    memory: the figures of docs/node.md were measured with it large enough to hold the database."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        database, buffers = connection.execute(
            "SELECT pg_database_size(current_database()), pg_size_bytes(current_setting('shared_buffers'))").fetchone()
        fits = database < 0.9 * buffers
        started = time.perf_counter()
        blocks = connection.execute(f"SELECT sum(pg_prewarm(oid, %s)) FROM ({_NODE_RELATIONS}) r",
                                    ("buffer" if fits else "read",)).fetchone()[0]
    where = "PostgreSQL's buffers" if fits else "the kernel's page cache only"
    print(f"memory: database {_size(database)}, shared_buffers {_size(buffers)}: {_size(blocks * 8192)} of the "
          f"node's tables and indexes read into {where} (pg_prewarm, {time.perf_counter() - started:.0f} s)")
    if not fits and reclaims_idle_page_cache():
        print(f"  this kernel pages out page cache left idle (DAMON pageout): pages no request touches for about a "
              f"minute go back to disk, and reads of them show in the tails. To hold the database in PostgreSQL's "
              f"buffers (docs/node.md): ALTER SYSTEM SET shared_buffers = '{-(-database * 1.25 // 2**30):.0f}GB' "
              f"and restart PostgreSQL")


def _size(octets: int) -> str:
    return f"{octets / 2**30:.1f} GiB" if octets >= 2**30 else f"{octets / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------- the queries

def query_kinds(loaded: Loaded, paths_per_kind: int, seed: int, store: NodeStore) -> dict[str, list[str]]:
    """Query kind -> the request paths of one run (random values the client's organisation can see; deep cursors
    sealed with the node's own cursor key, as its next links are)."""
    rng = random.Random(seed)
    seal = CursorSeal(store.secret(CURSOR_KEY_NAME, new_key))
    listing = listing_of("v3", [("limit", "50")])

    def pick(index: int) -> str:
        return quote(rng.choice(loaded.visible)[index], safe="")

    def day() -> str:
        return (EPOCH_START + DAY * rng.randrange(9 * 365)).strftime("%Y-%m-%dT00:00:00Z")

    n = paths_per_kind
    return {
        "v3 list (first page)": ["/3/footprints?limit=50"] * n,
        "v3 list (deep cursor)": [f"/3/footprints?limit=50&cursor={seal.seal(CLIENT_ORG, listing, rng.randrange(loaded.max_seq))}"
                                  for _ in range(n)],
        "v3 productId": [f"/3/footprints?limit=50&productId={pick(1)}" for _ in range(n)],
        "v3 companyId": [f"/3/footprints?limit=50&companyId={pick(2)}" for _ in range(n)],
        "v3 classification": [f"/3/footprints?limit=50&classification={pick(3)}" for _ in range(n)],
        "v3 geography": [f"/3/footprints?limit=50&geography={rng.choice(COUNTRIES)}" for _ in range(n)],
        "v3 status=Deprecated": ["/3/footprints?limit=50&status=Deprecated"] * n,
        "v3 validOn": [f"/3/footprints?limit=50&validOn={day()}" for _ in range(n)],
        "v3 validAfter": [f"/3/footprints?limit=50&validAfter={day()}" for _ in range(n)],
        "v3 validBefore": [f"/3/footprints?limit=50&validBefore={day()}" for _ in range(n)],
        "v3 geography+status+validOn": [f"/3/footprints?limit=50&geography={rng.choice(COUNTRIES)}&status=Active"
                                        f"&validOn={day()}" for _ in range(n)],
        "v2 $filter productIds": ["/2/footprints?limit=50&$filter=" + quote(f"productIds/any(p:(p eq '{rng.choice(loaded.visible)[1]}'))")
                                  for _ in range(n)],
        "v2 $filter companyIds+created": ["/2/footprints?limit=50&$filter=" + quote(
            f"companyIds/any(c:(c eq '{rng.choice(loaded.visible)[2]}')) and created ge '2018-01-01T00:00:00Z'")
            for _ in range(n)],
        "v2 $filter geographyCountry": ["/2/footprints?limit=50&$filter=" + quote(
            f"pcf/geographyCountry eq '{rng.choice(COUNTRIES)}'") for _ in range(n)],
        "v3 get by id": [f"/3/footprints/{rng.choice(loaded.visible)[0]}" for _ in range(n)],
        "v2 get by id": [f"/2/footprints/{rng.choice(loaded.visible)[0]}" for _ in range(n)],
    }


PREPARED_RUNS = 20  # psycopg prepares a statement at its 5th run; PostgreSQL plans its first 5 prepared runs anew


def explain(store: NodeStore, loaded: Loaded, seed: int) -> None:
    """EXPLAIN (ANALYZE) every statement the store runs for each query shape (the node's code makes the SQL)."""
    rng = random.Random(seed)
    _, product, company, classification = rng.choice(loaded.visible)
    products = tuple(rng.choice(loaded.visible)[1] for _ in range(5))  # a buyer asking for its purchased products
    moment = datetime(2022, 6, 1, tzinfo=timezone.utc)
    shapes = {
        "list, no filter": lambda: store.list_visible(CLIENT_ORG, Filters(), 0, 50),
        "productId": lambda: store.list_visible(CLIENT_ORG, Filters(product=(product,)), 0, 50),
        "companyId": lambda: store.list_visible(CLIENT_ORG, Filters(company=(company,)), 0, 50),
        "classification": lambda: store.list_visible(CLIENT_ORG, Filters(classification=(classification,)), 0, 50),
        "geography": lambda: store.list_visible(CLIENT_ORG, Filters(geography=("de",)), 0, 50),
        "status": lambda: store.list_visible(CLIENT_ORG, Filters(status="Deprecated"), 0, 50),
        "validOn": lambda: store.list_visible(CLIENT_ORG, Filters(valid_on=moment), 0, 50),
        "validAfter": lambda: store.list_visible(CLIENT_ORG, Filters(valid_after=moment), 0, 50),
        "validBefore": lambda: store.list_visible(CLIENT_ORG, Filters(valid_before=moment), 0, 50),
        "validAfter, a bound few meet (2026-06-01)":
            lambda: store.list_visible(CLIENT_ORG, Filters(valid_after=datetime(2026, 6, 1, tzinfo=timezone.utc)), 0, 50),
        "validBefore, a bound few meet (2018-06-01)":
            lambda: store.list_visible(CLIENT_ORG, Filters(valid_before=datetime(2018, 6, 1, tzinfo=timezone.utc)), 0, 50),
        "companyId + geography (the key's range, the other an IN condition)":
            lambda: store.list_visible(CLIENT_ORG, Filters(company=(company,), geography=("de",)), 0, 50),
        "two geographies + status (a range per geography)":
            lambda: store.list_visible(CLIENT_ORG, Filters(geography=("de", "fr"), status="Active"), 0, 50),
        "five productIds (a range per product)":
            lambda: store.list_visible(CLIENT_ORG, Filters(product=products), 0, 50),
        "v2 $filter productIds (key index, then predicate)":
            lambda: store.list_visible(CLIENT_ORG, Filters(product=(product,)), 0, 500, "v2"),
        "get by id": lambda: store.visible_document(CLIENT_ORG, loaded.visible[0][0]),
    }
    print(f"\nplans at {loaded.count:,} footprints: each statement run {PREPARED_RUNS} times prepared, as the node's "
          "connections run it, then EXPLAIN (ANALYZE, COSTS OFF) of the plan PostgreSQL used (its generic plan once it "
          "keeps one, else the plan made for the values):")
    for name, call in shapes.items():
        for statement, parameters in statements_of(store, call):
            with psycopg.connect(store.url, autocommit=True) as connection:  # a connection with nothing prepared yet
                serial_plans(connection)  # the hot-read pool's own settings
                for _ in range(PREPARED_RUNS):
                    connection.execute(statement, parameters, prepare=True).fetchall()
                generic, custom = connection.execute(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE generic_plans + custom_plans "
                    "= %s", (PREPARED_RUNS,)).fetchone()
                kept = generic > 0
                print(f"-- {name}: {'generic plan' if kept else 'planned for its values at every run'} "
                      f"({generic} generic, {custom} custom of {PREPARED_RUNS})")
                if kept:
                    plan = generic_plan(connection, statement, parameters, analyze=True)
                else:
                    plan = [line for (line,) in connection.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}",
                                                                   parameters)]
            for line in plan:
                if not line.lstrip().startswith(("Planning Time", "Rows Removed by Filter: 0")):
                    print("   ", line)


# ---------------------------------------------------------------------------------------------- the clients

WRK_SCRIPT = """
local paths = {%(paths)s}
local counter, i = 0, 0
wrk.headers["Authorization"] = "%(authorization)s"
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args) i = id * 97 end
function request() i = i + 1; return wrk.format("GET", paths[(i %% #paths) + 1]) end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclasses.dataclass
class Result:
    rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def run_kind(base: str, authorization: str, paths: list[str], clients: int, seconds: int) -> Result:
    """`clients` keep-alive connections (wrk, 2 threads) sending `paths` round-robin for `seconds`; wrk measures
    each request's latency in C, so the client's own cost does not inflate the figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": ",".join(json.dumps(path) for path in paths), "authorization": authorization})
    try:
        output = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "-s", script.name,
                                 base], capture_output=True, text=True, timeout=seconds + 120, check=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"FAIL: no result from wrk: {output[-2000:]}")
    count, duration_us, p50, p95, p99, bad_status, socket_errors = map(int, found.groups())
    if bad_status or socket_errors:
        raise SystemExit(f"FAIL: {bad_status} non-2xx answers and {socket_errors} socket errors of {count} requests")
    return Result(count / (duration_us / 1e6), p50 / 1000, p95 / 1000, p99 / 1000)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (pcf serve and its worker processes), in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0
    return total / 1024


def baseline(node, data_dir: Path, kinds: dict[str, list[str]], authorization: str, args) -> None:
    """The floor of this machine under the same load: a trivial Flask app returning a list page's and a get's bytes
    (the node's own answers, fetched once) under the node's server set-up (bench_node's baseline), with the same
    clients. No node can answer faster than that, whatever its database does."""
    paths = {name: kinds[kind][0] for name, kind in (("list", "v3 list (first page)"), ("get", "v3 get by id"))}
    trivial, port = start_trivial(node, {"Authorization": authorization}, paths, data_dir, args.workers)
    try:
        for name in ("list", "get"):
            result = run_kind(f"https://127.0.0.1:{port}", authorization, [paths[name]], args.clients, args.seconds)
            label = f"trivial app, same {name} bytes"
            print(f"{label:<34} {result.rate:7.0f} {result.p50_ms:8.1f} {result.p95_ms:8.1f} {result.p99_ms:8.1f}")
    finally:
        trivial.terminate()
        trivial.wait(30)


# ---------------------------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--footprints", type=int, default=1_000_000)
    parser.add_argument("--paths", type=int, default=2_000, help="distinct request paths per query kind")
    parser.add_argument("--seconds", type=int, default=10, help="wrk run per query kind")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the node (pcf serve --workers)")
    parser.add_argument("--database", default="pcf_bench_scale", help="created (dropped first if it exists)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to EXPLAIN by hand)")
    parser.add_argument("--reuse", action="store_true", help="use the database a run with --keep loaded (implies --keep)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--no-prewarm", dest="prewarm", action="store_false",
                        help="measure without reading the database into memory first (prewarm)")
    parser.add_argument("--passes", type=int, default=8, help="further passes over every kind, RSS after each")
    parser.add_argument("--only", default="", help="measure only the query kinds whose name holds one of these "
                        "comma-separated strings (e.g. validAfter,validBefore,validOn); the trivial app is measured still")
    args = parser.parse_args()

    db_url = f"{SERVER}/{args.database}"
    args.keep = args.keep or args.reuse
    if not args.reuse:
        with psycopg.connect(f"{SERVER}/test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
            admin.execute(f'CREATE DATABASE "{args.database}"')
    store = None
    try:
        store = NodeStore(db_url)
        store.init_schema()
        if args.reuse:
            loaded = loaded_before(db_url)
        else:
            add_clients(store, {"bench": ("bench-secret", CLIENT_ORG)})
            loaded = load(db_url, args.footprints, args.seed)
        if args.prewarm:
            prewarm(db_url)
        explain(store, loaded, args.seed)
        data_dir = Path(tempfile.mkdtemp(prefix="pcf-bench-scale-"))
        node = start_node(data_dir, db_url, workers=args.workers, extra=("--deliver-every", "0"))
        try:
            authorization = f"Bearer {node.token('bench', 'bench-secret')}"
            kinds = query_kinds(loaded, args.paths, args.seed, store)
            wanted = [part for part in args.only.split(",") if part]
            measured = {name: paths for name, paths in kinds.items() if not wanted or any(w in name for w in wanted)}
            run_kind(node.base, authorization, [p for paths in measured.values() for p in paths[:50]], args.clients, 5)
            rss_before = tree_rss_mb(node.process.pid)
            print(f"\n{args.clients} concurrent keep-alive clients (wrk) for {args.seconds} s per query kind, "
                  f"`pcf serve --workers {args.workers}` (TLS, loopback), {loaded.count:,} footprints, "
                  f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} before)")
            print(f"{'query kind':<34} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
            worst = 0.0
            probe = node.base + kinds["v3 get by id"][0]  # one more client, alone on its connection, 10 times a second
            for name, paths in measured.items():
                with StallWatch(probe, {"Authorization": authorization}, node.ca, database=db_url) as watch:
                    result = run_kind(node.base, authorization, paths, args.clients, args.seconds)
                worst = max(worst, result.p99_ms)
                print(f"{name:<34} {result.rate:7.0f} {result.p50_ms:8.1f} {result.p95_ms:8.1f} {result.p99_ms:8.1f}")
                print("\n".join(watch.report()))
            rss_after = tree_rss_mb(node.process.pid)
            series = []
            for _ in range(args.passes):  # every kind again: does the memory keep growing with use, or level off?
                for paths in measured.values():
                    run_kind(node.base, authorization, paths, args.clients, 1)
                series.append(tree_rss_mb(node.process.pid))
            baseline(node, data_dir, kinds, authorization, args)
            print(f"node RSS (arbiter + workers): {rss_before:.0f} MB before, {rss_after:.0f} MB after; after each "
                  f"further pass of 1 s per kind: {', '.join(f'{mb:.0f}' for mb in series)} MB")
            print(f"worst p99 {worst:.1f} ms: {'meets' if worst < 50 else 'MISSES'} the 50 ms target")
        finally:
            node.stop()
    finally:
        if store is not None:
            store.dispose()
        if not args.keep:
            with psycopg.connect(f"{SERVER}/test", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
