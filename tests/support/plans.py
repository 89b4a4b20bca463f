"""The plan PostgreSQL keeps for a prepared statement of the node's hot path (what it runs once psycopg prepares
the statement), not the plan it would make for one set of values: the statement is prepared under its own name
with `$n` parameters and EXPLAINed as EXECUTE under `plan_cache_mode = force_generic_plan`."""

from __future__ import annotations

import re
from typing import Callable

import psycopg
from psycopg import sql as psql

_NAMED = re.compile(r"%\((\w+)\)s")


def generic_plan(connection: psycopg.Connection, statement: str, params: dict, analyze: bool = False) -> list[str]:
    """EXPLAIN (COSTS OFF[, ANALYZE]) lines of the generic plan of `statement` (psycopg's `%(name)s` style) run
    with `params`."""
    order: list[str] = []
    for name in _NAMED.findall(statement):
        if name not in order:
            order.append(name)
    numbered = _NAMED.sub(lambda match: f"${order.index(match.group(1)) + 1}", statement)
    arguments = psql.SQL(", ").join(psql.Literal(params[name]) for name in order).as_string(connection)
    connection.execute("SET plan_cache_mode = force_generic_plan")
    connection.execute(f"PREPARE pcf_generic AS {numbered}")
    try:
        options = "ANALYZE, COSTS OFF" if analyze else "COSTS OFF"
        return [line for (line,) in connection.execute(f"EXPLAIN ({options}) EXECUTE pcf_generic({arguments})")]
    finally:
        connection.execute("DEALLOCATE pcf_generic")
        connection.execute("RESET plan_cache_mode")


def statements_of(store, call: Callable[[], object]) -> list[tuple[str, dict]]:
    """The statements `call` runs on the store's hot path (`NodeStore._fetch`, where the API's reads go on a raw
    driver connection), with their parameters."""
    run: list[tuple[str, dict]] = []
    fetch = store._fetch

    def capture(statement: str, parameters: dict, **options) -> list[tuple]:
        run.append((statement, dict(parameters)))
        return fetch(statement, parameters, **options)

    store._fetch = capture
    try:
        call()
    finally:
        store._fetch = fetch
    return run
