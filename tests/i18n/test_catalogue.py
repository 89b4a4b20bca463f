"""The catalogues are complete and current: the compiled .mo is the .po compiled, extraction finds every marked
string of the code base in the .po and nothing stale, and every Simplified Chinese entry is translated (not empty,
not fuzzy) with the same placeholders as its English source. `make i18n` fixes the first two (docs/i18n.md)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from lca_models.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in LANGUAGES if language != "en"]
PACKAGES = ("lca_models", "webhooks", "exchange", "connectors", "pcf")  # babel.cfg
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
BRACES = re.compile(r"\{[a-z_]*(?:![rs])?\}")
PERCENT = re.compile(r"%\([a-z_]+\)s|%%")


def _catalogue(language: str):
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as po:
        return read_po(po, locale=language)


def _extracted() -> set:
    found = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(ROOT / package, METHODS):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("language", TRANSLATED)
def test_compiled_catalogue_is_the_po_compiled(language):
    compiled = io.BytesIO()
    write_mo(compiled, _catalogue(language))
    shipped = (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo").read_bytes()
    assert shipped == compiled.getvalue(), "the .mo is stale: run `make i18n`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_string_is_in_the_catalogue_and_nothing_stale(language):
    in_code = _extracted()
    in_catalogue = {message.id if isinstance(message.id, str) else message.id[0] for message in _catalogue(language)
                    if message.id}
    assert len(in_code) > 250  # the report, the dashboard, model errors and the CLI are marked
    assert sorted(in_code - in_catalogue) == [], "marked in the code, missing from the .po: run `make i18n`"
    assert sorted(in_catalogue - in_code) == [], "in the .po, no longer in the code: run `make i18n`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_entry_is_translated_with_the_same_placeholders(language):
    problems = []
    for message in _catalogue(language):
        if not message.id:
            continue
        # a plural entry holds (singular, plural) ids and one string per plural form of the language
        ids, strings = _forms(message.id), _forms(message.string)
        if not all(strings) or message.fuzzy:
            problems.append(f"untranslated or fuzzy: {message.id!r}")
        elif any(sorted(BRACES.findall(ids[-1])) != sorted(BRACES.findall(s)) or
                 sorted(PERCENT.findall(ids[-1])) != sorted(PERCENT.findall(s)) for s in strings):
            problems.append(f"placeholders differ: {message.id!r} -> {message.string!r}")
    assert problems == []


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return (text,) if isinstance(text, str) else tuple(text)


def test_chinese_entries_are_chinese_and_keep_identifiers():
    catalogue = _catalogue("zh_CN")
    assert catalogue["declared unit"].string == "声明单位"
    assert catalogue["reference period"].string == "参考期"
    assert catalogue["primary data share"].string == "一次数据占比"
    assert catalogue["biogenic CO2 uptake"].string == "生物源二氧化碳吸收"
    # field names, units and commands stay as the files and the shell spell them
    assert "properties.ncv_gj_per_t" in catalogue["no net calorific value for {fuel!r}: give the amount in GJ or its "
                                                 "measured properties.ncv_gj_per_t"].string
    assert "pcf node add-peer" in catalogue["(answered once you add its node: pcf node add-peer)"].string
    han = re.compile(r"[\u4e00-\u9fff]")
    untouched = [m.id for m in catalogue if m.id and not all(han.search(s) for s in _forms(m.string))]
    assert untouched == []  # every entry says something in Chinese


def test_no_marked_string_hides_inside_an_f_string():
    """Extraction on Python 3.11 does not look inside f-strings: `f"{_('x')}"` would never reach the catalogue."""
    import ast

    hidden = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.JoinedStr):
                    for inner in ast.walk(node):
                        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and \
                                inner.func.id in ("_", "gettext", "ngettext", "N_") and \
                                any(isinstance(a, ast.Constant) for a in inner.args):
                            hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert hidden == []
