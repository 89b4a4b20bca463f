"""8 writer processes and 8 reader processes against one node (`pcf serve`, 2 worker processes) for a bounded
time, on SQLite and on PostgreSQL: no client ever sees an error ("database is locked" or any other), and the
counts reconcile (every acknowledged publish and event is stored once; listings never exceed what was stored)."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import func, select

from exchange.node.storage import events, footprints
from tests.support.hardening import database_url, seeded_store
from tests.support.hardening_workers import reader, writer
from tests.support.node import start_node

WRITERS = READERS = 8
pytestmark = pytest.mark.slow
SECONDS = 6.0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_writers_and_readers_at_once_see_no_errors_and_counts_reconcile(kind, tmp_path):
    db_url, cleanup = database_url(kind, tmp_path)
    store, _ = seeded_store(db_url)
    node = start_node(tmp_path, db_url, workers=2, extra=("--deliver-every", "0"))
    try:
        token = node.token("a", "a-secret")
        context = multiprocessing.get_context("fork")  # the test process has everything imported already
        queue = context.Queue()
        processes = [context.Process(target=writer, args=(f"w{i}", db_url, node.base, node.ca, token, SECONDS, queue))
                     for i in range(WRITERS)]
        processes += [context.Process(target=reader, args=(f"r{i}", node.base, node.ca, token, SECONDS, queue))
                      for i in range(READERS)]
        for process in processes:
            process.start()
        reports = [queue.get(timeout=SECONDS + 90) for _ in processes]
        for process in processes:
            process.join(timeout=30)
    finally:
        node.stop()
    try:
        errors = [f"{r.worker}: {e}" for r in reports for e in r.errors]
        assert errors == [], errors[:5]
        published = [i for r in reports for i in r.published]
        event_ids = [i for r in reports for i in r.events]
        listings = [n for r in reports for n in r.listings]
        assert len(published) >= WRITERS and len(event_ids) >= WRITERS and len(listings) >= READERS  # real load
        with store.engine.connect() as connection:
            stored_ids = set(connection.execute(select(footprints.c.id)).scalars())
            stored_events = connection.execute(select(events.c.event_id)).scalars().all()
            footprint_count = connection.execute(select(func.count()).select_from(footprints)).scalar_one()
        assert set(published) <= stored_ids and footprint_count == 3 + len(published)  # each publish stored once
        assert sorted(stored_events) == sorted(event_ids)  # every acknowledged event, once; no other
        visible_to_a = 2 + len(published)  # A's own and the public one, plus every writer's (shared with OrgA)
        assert all(2 <= n <= visible_to_a for n in listings)
        print(f"{kind}: {len(published)} publishes, {len(event_ids)} events, {len(listings)} listings in {SECONDS} s")
    finally:
        store.dispose()
        cleanup()

