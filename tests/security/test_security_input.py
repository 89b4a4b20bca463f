"""Hostile input: XML entity bombs and XXE, zip-bomb and oversized workbooks, oversized request bodies, and
filter values or ids that look like SQL or path traversal."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
import requests

from exchange.cbam.errors import CbamError
from exchange.cbam.qreport import validate_qreport
from exchange.safe_xml import XmlInputError, parse_xml
from exchange.xlsx_limits import XlsxLimitError, XlsxLimits, bounded_rows, check_xlsx, open_bounded_workbook
from tests.support.hardening import database_url, start_thread_node

# Billion laughs (CVE-2003-1564 class): 10 levels x 10 references = 10^9 "lol"s, ~3 GB if expanded.
LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{LAUGHS}]><r>&l9;</r>'.encode()


def _xxe(target: str) -> bytes:
    return f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]><r>&x;</r>'.encode()


# --- XML

@pytest.mark.parametrize("document", [BILLION_LAUGHS, _xxe("file:///etc/passwd"), _xxe("http://169.254.169.254/"),
                                      b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>'],
                         ids=["billion-laughs", "xxe-file", "xxe-network", "external-dtd"])
def test_xml_with_a_dtd_is_refused_fast_without_expanding_or_fetching(document):
    start = time.perf_counter()
    with pytest.raises(XmlInputError, match="DOCTYPE"):
        parse_xml(document, "upload.xml")
    with pytest.raises(CbamError, match="DOCTYPE"):  # the CBAM QReport validator parses through the same helper
        validate_qreport(document)
    assert time.perf_counter() - start < 1.0


def test_plain_xml_still_parses_and_broken_xml_says_where():
    assert parse_xml(b"<r><a>1</a></r>").find("a").text == "1"
    with pytest.raises(XmlInputError, match="upload.xml is not well-formed XML"):
        parse_xml(b"<r><a></r>", "upload.xml")


# --- Excel

def _workbook(tmp_path: Path, rows: int = 3, name: str = "book.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in range(rows):
        sheet.append([f"cell {row}", row])
    path = tmp_path / name
    book.save(path)
    return path


def _replace_part(path: Path, part: str, content: bytes) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, content if item.filename == part else source.read(item.filename))
    path.write_bytes(buffer.getvalue())
    return path


SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def test_a_normal_workbook_opens_and_its_rows_are_read(tmp_path):
    book = open_bounded_workbook(_workbook(tmp_path, rows=3))
    assert [row for row in bounded_rows(book.active)] == [("cell 0", 0), ("cell 1", 1), ("cell 2", 2)]


def test_zip_bomb_sheet_is_refused_before_inflating(tmp_path):
    # 64 MiB of empty rows compress ~1000:1 into a ~70 kB upload
    bomb = SHEET_HEAD + b"<sheetData>" + b"<row/>" * (64 * 1024 * 1024 // 6) + b"</sheetData></worksheet>"
    path = _replace_part(_workbook(tmp_path), SHEET, bomb)
    assert path.stat().st_size < 1_000_000
    start = time.perf_counter()
    with pytest.raises(XlsxLimitError, match=r"compression ratio \d+:1") as caught:
        open_bounded_workbook(path)
    assert caught.value.file == str(path) and time.perf_counter() - start < 1.0


def test_sheet_declaring_too_many_rows_is_refused_before_reading(tmp_path):
    sheet = SHEET_HEAD + b'<dimension ref="A1:C250000"/><sheetData/></worksheet>'
    path = _replace_part(_workbook(tmp_path), SHEET, sheet)
    with pytest.raises(XlsxLimitError, match="declares 250000 rows, more than the limit of 200000"):
        check_xlsx(path)
    wide = SHEET_HEAD + b'<dimension ref="A1:ZZZ2"/><sheetData/></worksheet>'
    with pytest.raises(XlsxLimitError, match="columns"):
        check_xlsx(_replace_part(_workbook(tmp_path), SHEET, wide))


def test_sheet_hiding_its_size_still_stops_at_the_row_limit(tmp_path):
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (i, i) for i in range(1, 51))
    sheet = SHEET_HEAD + b"<sheetData>" + rows + b"</sheetData></worksheet>"  # 50 rows, no <dimension>
    book = open_bounded_workbook(_replace_part(_workbook(tmp_path), SHEET, sheet), XlsxLimits(max_rows=20))
    with pytest.raises(XlsxLimitError, match="more than 20 rows"):
        list(bounded_rows(book.active, XlsxLimits(max_rows=20)))


def test_workbook_part_with_entities_is_refused(tmp_path):
    sheet = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY l0 "lol">' + LAUGHS.encode() + b"]>"
             + SHEET_HEAD[len(b'<?xml version="1.0"?>'):] + b"<sheetData/></worksheet>")
    with pytest.raises(XlsxLimitError, match="DOCTYPE"):
        open_bounded_workbook(_replace_part(_workbook(tmp_path), SHEET, sheet))


def test_not_a_workbook_and_missing_file_are_clear_errors(tmp_path):
    text = tmp_path / "goods.xlsx"
    text.write_text("cn_code,quantity\n")
    with pytest.raises(XlsxLimitError, match="not a readable .xlsx"):
        open_bounded_workbook(text)
    with pytest.raises(XlsxLimitError, match="cannot read the file"):
        check_xlsx(tmp_path / "missing.xlsx")
    with pytest.raises(XlsxLimitError, match="more than the limit of 10"):
        check_xlsx(_workbook(tmp_path), XlsxLimits(max_file_bytes=10))


# --- the API: body size, SQL- and path-like values

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def node(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("input")
    db_url, cleanup = database_url(request.param, directory)
    running = start_thread_node(directory, db_url)
    running.headers = {"Authorization": f"Bearer {running.token('a')}"}
    yield running
    running.stop()
    cleanup()


def test_nul_characters_are_a_400_not_a_database_error(node):
    """PostgreSQL text cannot hold NUL: refused as bad input on every path that reaches the database."""
    listing = requests.get(f"{node.base}/3/footprints", params={"productId": "a\x00b"}, headers=node.headers, timeout=10)
    assert listing.status_code == 400 and "NUL" in listing.json()["message"]
    event = {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0", "id": "x\u0000y",
             "source": "//a.example", "time": "2026-01-01T00:00:00Z", "data": {"pfIds": [node.ids["a"]]}}
    sent = requests.post(f"{node.base}/3/events", data=json.dumps(event),  # NUL travels as \\u0000
                         headers={**node.headers, "Content-Type": "application/cloudevents+json"}, timeout=10)
    assert sent.status_code == 400 and "NUL" in sent.json()["message"]
    token = requests.post(f"{node.base}/auth/token", data={"grant_type": "client_credentials"},
                          auth=("a\x00", "a-secret"), timeout=10)
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"


def test_oversized_body_is_413_with_a_pact_error(node):
    body = b'{"data": "' + b"x" * 1_200_000 + b'"}'
    response = requests.post(f"{node.base}/3/events", data=body, timeout=20,
                             headers={**node.headers, "Content-Type": "application/cloudevents+json"})
    assert response.status_code == 413 and response.json()["code"] == "BadRequest"
    assert "larger than 1000000 bytes" in response.json()["message"]


def test_oversized_chunked_body_without_length_is_refused(node):
    chunks = (b"x" * 65536 for _ in range(32))  # 2 MiB, no Content-Length
    response = requests.post(f"{node.base}/3/events", data=chunks, timeout=20,
                             headers={**node.headers, "Content-Type": "application/cloudevents+json"})
    assert response.status_code in (400, 413) and "code" in response.json()


SQL_LIKE = ["' OR '1'='1", "x'); DROP TABLE footprints; --", "%", "_", "\\", "\x00", "1 UNION SELECT v3_json FROM footprints"]
PATHS = ["../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "....//....//etc/passwd"]


@pytest.mark.parametrize("value", SQL_LIKE)
def test_sql_like_filter_values_match_nothing_and_break_nothing(node, value):
    for name in ("productId", "companyId", "geography", "classification"):
        response = requests.get(f"{node.base}/3/footprints", params={name: value}, headers=node.headers, timeout=10)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json() == {"data": []}  # a wildcard or injected OR must not match every row
    assert node.store.count() == 3


@pytest.mark.parametrize("value", SQL_LIKE + PATHS)
def test_sql_or_path_like_ids_are_a_plain_400_or_404(node, value):
    for path in (f"/3/footprints/{value}", f"/2/footprints/{value}", f"/schemas/{value}.json", f"/{value}"):
        response = requests.get(node.base + path, headers=node.headers, timeout=10)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert "root:x:0:0" not in response.text and "pcfExcludingBiogenicUptake" not in response.text
        assert response.headers["Content-Type"].startswith("application/json")
    assert node.store.count() == 3


def test_a_database_locked_past_its_timeout_is_a_503_with_retry_after(tmp_path, monkeypatch):
    """A writer holding SQLite's lock longer than the busy timeout: the client gets 503 + Retry-After, not a 500."""
    import sqlite3

    from exchange.node import storage

    monkeypatch.setattr(storage, "SQLITE_BUSY_TIMEOUT_MS", 200)
    running = start_thread_node(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {running.token('a')}", "Content-Type": "application/cloudevents+json"}
        event = {"type": "org.wbcsd.pact.ProductFootprint.PublishedEvent.3", "specversion": "1.0", "id": "e1",
                 "source": "//a.example", "time": "2026-01-01T00:00:00Z", "data": {"pfIds": [running.ids["a"]]}}
        holder = sqlite3.connect(str(tmp_path / "node.sqlite"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            busy = requests.post(f"{running.base}/3/events", json=event, headers=headers, timeout=10)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert busy.json()["code"] == "InternalError" and "retry" in busy.json()["message"]
        again = requests.post(f"{running.base}/3/events", json=event, headers=headers, timeout=10)
        assert again.status_code == 200  # nothing was half-written: the same event is accepted once the lock is gone
        assert [e["event_id"] for e in running.store.list_events()] == ["e1"]
    finally:
        running.stop()
