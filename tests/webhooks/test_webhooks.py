"""The outbox and its delivery: transactional enqueue, at-least-once delivery, backoff, dead letters, signatures."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import create_engine, select, text

from exchange.node.storage import create_db_engine
from tests.support.databases import postgres_schema

from webhooks.delivery import Deliverer, DeliveryError, post_json, standard_webhook_transport
from webhooks.outbox import Outbox, create_tables, enqueue
from webhooks.outbox import outbox as outbox_table
from webhooks.signing import WebhookVerificationError, new_secret, sign_headers, verify_webhook

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    create_tables(engine)
    return engine


class Receiver:
    """A local HTTP receiver that records bodies and answers with a configurable status."""

    def __init__(self) -> None:
        self.bodies: list[tuple[dict, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def plain_transport(item) -> None:
    post_json(item.target, item.body, {"Content-Type": "application/json"}, timeout=5)


def test_enqueue_commits_or_rolls_back_with_the_callers_transaction(engine):
    with pytest.raises(RuntimeError):
        with engine.begin() as connection:
            enqueue(connection, "m1", "http://x", "plain", "{}", T0)
            raise RuntimeError("the state change failed")
    assert Outbox(engine).items() == []
    with engine.begin() as connection:
        enqueue(connection, "m1", "http://x", "plain", "{}", T0)
        enqueue(connection, "m1", "http://x", "plain", "{}", T0)  # same id: one message
    assert len(Outbox(engine).items()) == 1


def test_delivered_once_after_the_receiver_comes_back(engine, receiver):
    clock = Clock()
    outbox = Outbox(engine)
    with engine.begin() as connection:
        enqueue(connection, "evt-1", receiver.url, "plain", json.dumps({"n": 1}), clock())
    deliverer = Deliverer(outbox, {"plain": plain_transport}, clock=clock, jitter=lambda: 0.0)
    receiver.status = 503
    assert deliverer.run_once() == {"delivered": 0, "retrying": 1, "dead": 0}
    assert deliverer.run_once() == {"delivered": 0, "retrying": 0, "dead": 0}  # not due yet: backoff
    receiver.status = 200
    clock.now += timedelta(seconds=5)
    assert deliverer.run_once()["delivered"] == 1
    clock.now += timedelta(hours=1)
    assert deliverer.run_once()["delivered"] == 0
    assert [b for _, b in receiver.bodies].count(b'{"n": 1}') == 2  # one refused, one accepted
    [item] = outbox.items()
    assert item["status"] == "delivered" and item["attempts"] == 2


def test_backoff_grows_exponentially(engine):
    clock = Clock()
    outbox = Outbox(engine, base_delay=timedelta(seconds=2))
    with engine.begin() as connection:
        enqueue(connection, "m", "http://127.0.0.1:9/none", "plain", "{}", clock())
    waits = []
    for _ in range(4):
        [item] = outbox.claim_due(clock.now + timedelta(days=1))
        outbox.failed(item, "down", clock(), jitter=0.999999)
        waits.append(outbox.items()[0]["next_attempt_us"])
    deltas = [b - a for a, b in zip(waits, waits[1:])]
    assert deltas[1] > deltas[0] * 1.5


def test_a_refusal_is_permanent_and_the_horizon_ends_retries(engine, receiver):
    clock = Clock()
    outbox = Outbox(engine)
    with engine.begin() as connection:
        enqueue(connection, "bad", receiver.url, "plain", "{}", clock())
        enqueue(connection, "slow", "http://127.0.0.1:9/closed", "plain", "{}", clock())
    receiver.status = 400
    deliverer = Deliverer(outbox, {"plain": plain_transport}, clock=clock, jitter=lambda: 0.5)
    assert deliverer.run_once() == {"delivered": 0, "retrying": 1, "dead": 1}
    clock.now += timedelta(hours=73)
    deliverer.run_once()
    items = {i["message_id"]: i for i in outbox.items()}
    assert items["bad"]["status"] == "dead" and "HTTP 400" in items["bad"]["last_error"]
    assert items["slow"]["status"] == "dead" and "gave up" in items["slow"]["last_error"]


def test_a_leased_message_is_not_sent_twice_at_once_and_returns_after_a_crash(engine):
    clock = Clock()
    outbox = Outbox(engine, lease=timedelta(minutes=2))
    with engine.begin() as connection:
        enqueue(connection, "m", "http://x", "plain", "{}", clock())
    assert len(outbox.claim_due(clock())) == 1
    assert outbox.claim_due(clock()) == []  # another deliverer: the lease holds
    clock.now += timedelta(minutes=3)  # the first one died without recording anything
    assert len(outbox.claim_due(clock())) == 1


def test_unknown_kind_is_dead_not_stuck(engine):
    with engine.begin() as connection:
        enqueue(connection, "m", "http://x", "carrier-pigeon", "{}", T0)
    assert Deliverer(Outbox(engine), {}, clock=lambda: T0).run_once()["dead"] == 1


def test_standard_webhooks_signature_round_trip(engine, receiver):
    secret = new_secret()
    with engine.begin() as connection:
        enqueue(connection, "msg_1", receiver.url, "standard", json.dumps({"type": "footprint.published"}), T0)
    Deliverer(Outbox(engine), {"standard": standard_webhook_transport(lambda target: secret)}).run_once()
    [(headers, body)] = receiver.bodies
    assert verify_webhook(secret, headers, body) == {"type": "footprint.published"}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers, body.replace(b"published", b"deprecated"))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(new_secret(), headers, body)


def test_stale_standard_webhook_is_refused():
    secret = new_secret()
    old = sign_headers(secret, "msg_2", datetime.now(timezone.utc) - timedelta(hours=1), "{}")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, old, "{}")


def test_delivery_error_classification(receiver):
    receiver.status = 429
    with pytest.raises(DeliveryError) as caught:
        post_json(receiver.url, "{}", {})
    assert not caught.value.permanent
    receiver.status = 404
    with pytest.raises(DeliveryError) as caught:
        post_json(receiver.url, "{}", {})
    assert caught.value.permanent


@pytest.fixture
def postgres_engine():
    url, admin, schema = postgres_schema()
    engine = create_db_engine(url)
    create_tables(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def test_on_postgresql_concurrent_claims_skip_locked_rows_and_a_dead_deliverers_lease_expires(postgres_engine):
    """Two deliverers (two `pcf serve` instances) on one PostgreSQL: a claim in progress holds its rows locked and
    the other deliverer takes the remaining ones at once (SKIP LOCKED, no waiting, no overlap); what a deliverer
    leased and never reported is due again only after the lease."""
    clock = Clock()
    first, second = Outbox(postgres_engine, lease=timedelta(minutes=2)), Outbox(postgres_engine, lease=timedelta(minutes=2))
    with postgres_engine.begin() as connection:
        for number in range(6):
            enqueue(connection, f"m{number}", "http://x", "plain", "{}", clock())
    with postgres_engine.connect() as holder:  # a claim caught between its SELECT ... FOR UPDATE and its commit
        transaction = holder.begin()
        locked = holder.execute(select(outbox_table.c.message_id).order_by(outbox_table.c.pk).limit(2)
                                .with_for_update()).scalars().all()
        taken = first.claim_due(clock(), limit=10)
        transaction.rollback()
    assert locked == ["m0", "m1"] and [item.message_id for item in taken] == ["m2", "m3", "m4", "m5"]
    assert [item.message_id for item in second.claim_due(clock())] == ["m0", "m1"]
    assert second.claim_due(clock()) == []  # every message is leased now
    clock.now += timedelta(minutes=3)  # both deliverers died without recording anything
    again = second.claim_due(clock())
    assert sorted(item.message_id for item in again) == [f"m{number}" for number in range(6)]
    for item in again:
        second.delivered(item, clock())
    clock.now += timedelta(minutes=3)
    assert first.claim_due(clock()) == [] and {item["status"] for item in first.items()} == {"delivered"}
