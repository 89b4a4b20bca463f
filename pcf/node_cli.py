"""`pcf node ...` and `pcf serve`: set up, fill and run a PACT node (the command shapes are a contract)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from exchange.node.app import NodeConfig
from exchange.node.auth import hash_secret
from exchange.node.records import publish_footprints
from exchange.node.storage import NodeStore, StoreError
from exchange.pact import PactValidationError, footprints_in, load_footprint, parse_json

from .brightway_project import DATA_DIR_ENV, default_data_dir


def default_db_url(data_dir: Path | None = None) -> str:
    """The embedded default: a SQLite file under the data dir."""
    directory = data_dir or default_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'node.sqlite'}"


def _db_option(function):
    return click.option("--db", "db_url", envvar="PCF_NODE_DB", help="Database URL (sqlite:///FILE or postgresql://...); "
                        "default: a SQLite file under the data dir.")(function)


def _fail(message: str, status: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _store(db_url: str | None, initialise: bool = False) -> NodeStore:
    store = NodeStore(db_url or default_db_url())
    try:
        store.init_schema() if initialise else store.check_schema()
    except StoreError as error:
        _fail(str(error))
    return store


@click.group()
def node() -> None:
    """Administer a PACT node: its database, client credentials and published footprints."""


@node.command()
@_db_option
def init(db_url: str | None) -> None:
    """Create (or upgrade) the node database."""
    store = _store(db_url, initialise=True)
    click.echo(f"node database ready: {store.url}")


@node.command("add-client")
@_db_option
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--org", required=True, help="The organisation the client belongs to (what footprints are shared with).")
def add_client(db_url: str | None, client_id: str, client_secret: str, org: str) -> None:
    """Add an OAuth2 client credential; the secret is stored hashed."""
    store = _store(db_url)
    try:
        store.add_client(client_id, hash_secret(client_secret), org, datetime.now(timezone.utc))
    except StoreError as error:
        _fail(str(error))
    click.echo(f"client {client_id} added for {org}")


@node.command()
@_db_option
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--share-with", multiple=True, help="Organisation that may see the footprints (repeatable).")
@click.option("--public", is_flag=True, help="Visible to every authenticated client.")
def publish(db_url: str | None, file: Path, share_with: tuple[str, ...], public: bool) -> None:
    """Publish the PACT footprints in FILE (v3 or v2; one, a JSON array, or a {"data": [...]} list)."""
    store = _store(db_url)
    try:
        document = parse_json(file.read_bytes())
    except OSError as exc:
        _fail(f"{file}: cannot read file: {exc.strerror or exc}", status=2)
    except PactValidationError as error:
        _fail(f"{file}: {error}")
    items = [("/" + str(i), item) for i, item in enumerate(document)] if isinstance(document, list) else footprints_in(document)
    footprints, problems = [], []
    for prefix, item in items:
        try:
            footprints.append(load_footprint(item).footprint)
        except PactValidationError as error:
            problems += [f"{prefix}{issue}" for issue in error.issues]
    if problems:
        _fail(f"{file}: nothing published:\n" + "\n".join(problems))
    try:
        ids = publish_footprints(store, footprints, share_with, public)
    except StoreError as error:
        _fail(f"{file}: nothing published: {error}")
    audience = "public" if public else (", ".join(share_with) or "nobody yet")
    click.echo(json.dumps({"published": ids, "visible_to": audience}))


@node.command()
@_db_option
@click.argument("footprint_id")
@click.option("--with", "orgs", multiple=True, required=True, help="Organisation to share with (repeatable).")
def share(db_url: str | None, footprint_id: str, orgs: tuple[str, ...]) -> None:
    """Share a published footprint with more organisations."""
    try:
        _store(db_url).share(footprint_id, orgs)
    except StoreError as error:
        _fail(str(error))
    click.echo(f"{footprint_id} shared with {', '.join(orgs)}")


@click.command()
@_db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=int)
@click.option("--cert", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--self-signed", is_flag=True, help="Generate (once) a self-signed certificate under the data dir.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes (gunicorn).")
@click.option("--public-url", help="This node's URL as others reach it (default https://HOST:PORT); the `source` of its events.")
@click.option("--deliver-every", default=1.0, show_default=True, type=float,
              help="Seconds between outbox delivery rounds (0: do not deliver; use `pcf node deliver`).")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar=DATA_DIR_ENV)
def serve(db_url: str | None, host: str, port: int, cert: Path | None, key: Path | None, self_signed: bool,
          workers: int, public_url: str | None, deliver_every: float, data_dir: Path | None) -> None:
    """Serve the PACT v3 and v2 API over HTTPS (PACT requires TLS; plain HTTP is refused), and deliver its events."""
    from exchange.node.server import serve as run
    from exchange.node.tls import self_signed_certificate

    if self_signed == bool(cert or key) or bool(cert) != bool(key):
        _fail("give either --cert and --key, or --self-signed")
    db_url = db_url or default_db_url(data_dir)
    store = _store(db_url)
    from exchange.node.workflow import NODE_URL_KEY

    store.set_setting(NODE_URL_KEY, public_url or f"https://{host}:{port}")
    if deliver_every > 0:
        _start_delivery(db_url, deliver_every)
    if self_signed:
        cert, key = self_signed_certificate((data_dir or default_data_dir()) / "tls", host)
        click.echo(f"self-signed certificate: {cert} (give it to clients as their CA bundle)", err=True)
    click.echo(f"serving https://{host}:{port} from {db_url} with {workers} worker(s)", err=True)
    run(NodeConfig(db_url), host, port, cert, key, workers)


def _delivery_loop(db_url: str, interval: float, parent: int) -> None:
    """Deliver the outbox until the server (our parent process) is gone."""
    import os
    import time

    from .workflow import deliverer

    worker = deliverer(NodeStore(db_url))
    while os.getppid() == parent:
        try:
            worker.run_once()
        except Exception:  # noqa: BLE001 - a database hiccup must not end delivery; the next round retries
            pass
        time.sleep(interval)


def _start_delivery(db_url: str, interval: float) -> None:
    import multiprocessing
    import os

    process = multiprocessing.get_context("spawn").Process(
        target=_delivery_loop, args=(db_url, interval, os.getpid()), name="pcf-outbox-delivery", daemon=True)
    process.start()
