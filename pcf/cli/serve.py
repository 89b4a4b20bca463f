"""`pcf serve`: the PACT API over HTTPS (Hypercorn, exchange/node/server.py) and the outbox delivery beside it."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.node.app import NodeConfig
from exchange.node.storage import NodeStore

from lca_models.i18n import gettext as _

from .common import chosen_data_dir, db_option, default_db_url, fail, open_store


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=int)
@click.option("--cert", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--self-signed", is_flag=True, help="Generate (once) a self-signed certificate under the data dir.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes, each an event loop owning its connections (Hypercorn).")
@click.option("--public-url", help="This node's URL as others reach it (default https://HOST:PORT); the `source` of its events.")
@click.option("--deliver-every", default=1.0, show_default=True, type=float,
              help="Seconds between outbox delivery rounds (0: do not deliver; use `pcf node deliver`).")
def serve(db_url: str | None, host: str, port: int, cert: Path | None, key: Path | None, self_signed: bool,
          workers: int, public_url: str | None, deliver_every: float) -> None:
    """Serve the PACT v3 and v2 API over HTTPS (PACT requires TLS; plain HTTP is refused), and deliver its events.

    Several nodes run on one host with a --data-dir (and a --port) each."""
    from exchange.node.server import serve as run
    from exchange.node.tls import self_signed_certificate

    if self_signed == bool(cert or key) or bool(cert) != bool(key):
        fail(_("give either --cert and --key, or --self-signed"))
    data_dir = chosen_data_dir()
    db_url = db_url or default_db_url(data_dir)
    if self_signed:
        cert, key = self_signed_certificate(data_dir / "tls", host)
        click.echo(_("self-signed certificate: {cert} (give it to clients as their CA bundle)").format(cert=cert),
                   err=True)
    _refuse_exposed_secrets(db_url, key)
    store = open_store(db_url)
    from exchange.node.workflow import NODE_URL_KEY

    store.set_setting(NODE_URL_KEY, public_url or f"https://{host}:{port}")
    store.dispose()  # each server worker opens its own connections (none carried across a fork)
    if deliver_every > 0:
        _start_delivery(db_url, deliver_every)
    click.echo(_("serving https://{host}:{port} from {db} with {workers} worker(s)").format(
        host=host, port=port, db=db_url, workers=workers), err=True)
    run(NodeConfig(db_url), host, port, cert, key, workers)


def _refuse_exposed_secrets(db_url: str, key: Path | None) -> None:
    """Stop before serving when the database or TLS key can be read or written by other local users."""
    from exchange.node.private_files import exposed, secret_files

    found = exposed(secret_files(db_url, key))
    if found:
        fail("\n".join(_("{path} is open to other users (mode {mode}) and holds the node's secrets; "
                          "run: chmod 600 {path}").format(path=path, mode=f"{mode:04o}") for path, mode in found))


def _delivery_loop(db_url: str, interval: float, parent: int) -> None:
    """Deliver the outbox until the server (our parent process) is gone."""
    import os
    import time

    from ..tiers.workflow import deliverer

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
