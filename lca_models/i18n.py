"""Simplified Chinese and English for what people read: messages, errors, the HTML report and the web pages.

The first users of the toolkit are Chinese manufacturers: every message, error, report and page a person reads
is marked for translation and looked up in gettext catalogues managed with Babel (`docs/i18n.md`):

    lca_models/locale/<lang>/LC_MESSAGES/messages.po   (the translations, edited by people)
    lca_models/locale/<lang>/LC_MESSAGES/messages.mo   (compiled, shipped as package data)

It lives at the bottom layer because model errors start here and every layer above (exchange's web pages, pcf's
CLI and report) imports it. The language is per context (a `ContextVar`): the CLI sets it once from `--lang`,
`PCF_LANG` or the POSIX locale variables, a web request from its cookie or `Accept-Language`. English is the
default and the source language, so an untranslated string reads in English, never as a key.

Numbers and dates are formatted by Babel with the locale's own rules (`format_number`, `format_day`,
`format_moment`), never by hand. Identifiers, units, CN codes and PACT field names are not translated.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

DEFAULT = "en"
LANGUAGES = ("en", "zh_CN")  # gettext names; `tag()` gives the BCP 47 form used in HTML and URLs (zh-CN)
NAMES = {"en": "English", "zh_CN": "简体中文"}  # each language in its own script, for the switch links
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGE_ENV = "PCF_LANG"
_POSIX_ENV = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence: the first one set decides

_current: ContextVar[str] = ContextVar("pcf_language", default=DEFAULT)


def normalise(value: str | None) -> str | None:
    """A language as people and systems write it (`zh-CN`, `zh_CN.UTF-8`, `zh-Hans`, `en_GB`, `C`) -> one of
    LANGUAGES, or None when it names a language we do not have (Traditional Chinese included)."""
    if not value:
        return None
    text = value.split(".")[0].split("@")[0].strip().replace("-", "_").lower()
    if text in ("c", "posix", "en") or text.startswith("en_"):
        return "en"
    parts = text.split("_")
    if parts[0] == "zh":
        traditional = {"hant", "tw", "hk", "mo"}
        return None if traditional & set(parts[1:]) else "zh_CN"
    return None


def tag(language: str | None = None) -> str:
    """The BCP 47 tag of a language (`zh-CN`), for `<html lang>`, cookies and links."""
    return (language or current()).replace("_", "-")


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language when `--lang` is not given: `PCF_LANG`, else the POSIX locale variables (LC_ALL,
    LC_MESSAGES, LANG: the first one set decides); a language we do not have means English."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(LANGUAGE_ENV)
    if chosen:
        return normalise(chosen) or DEFAULT
    for name in _POSIX_ENV:
        if environ.get(name):
            return normalise(environ[name]) or DEFAULT
    return DEFAULT


def best_match(accept_language: str | None) -> str | None:
    """The language an HTTP `Accept-Language` header prefers among ours (q-values honoured, `*` ignored), or None."""
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        language = normalise(name)
        if language and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def current() -> str:
    """The language of this context (DEFAULT until something sets it)."""
    return _current.get()


def set_language(language: str | None) -> str:
    """Set this context's language (normalised; unknown -> English) and return it."""
    chosen = normalise(language) or DEFAULT
    _current.set(chosen)
    return chosen


def activate(language: str | None) -> Callable[[], None]:
    """Set this context's language and return the function that restores the previous one (a command sets it for
    its run, and a process running several commands, such as a test, gets its language back)."""
    token = _current.set(normalise(language) or DEFAULT)
    return lambda: _current.reset(token)


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Run a block in `language` and restore the previous one afterwards (report rendering, tests)."""
    token = _current.set(normalise(language) or DEFAULT)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@lru_cache(maxsize=None)
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of `language` (English needs none: it is the source language)."""
    if language == DEFAULT:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], DOMAIN)


def gettext(message: str) -> str:
    """`message` in this context's language (itself when not translated)."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in this context's language."""
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extraction tools look for
    """Mark a string for the catalogue where it is defined (a validator's message, a table of labels); it is
    translated where it is shown, with `gettext`."""
    return message


_ = gettext


def babel_locale(language: str | None = None) -> Locale:
    return Locale.parse(language or current())


def format_number(value: Decimal | float | int | None, places: int = 4, empty: str = "–") -> str:
    """A number with `places` decimals and the locale's grouping and decimal signs (Babel); `empty` for None."""
    if value is None:
        return empty
    pattern = "#,##0" + ("." + "0" * places if places > 0 else "")
    return format_decimal(value, format=pattern, locale=babel_locale())


def format_day(day: date | datetime | None) -> str:
    """A calendar day in the locale's long form (`January 1, 2025` in English, `2025年1月1日` in Chinese)."""
    if day is None:
        return ""
    return format_date(day.date() if isinstance(day, datetime) else day, format="long", locale=babel_locale())


def format_moment(moment: datetime | None) -> str:
    """A point in time, in UTC, in the locale's medium form with the zone named."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return format_datetime(moment, format="medium", tzinfo=timezone.utc, locale=babel_locale()) + " UTC"


def install_jinja(environment) -> None:
    """Jinja's i18n extension on `environment`, its `_()`/`{% trans %}` bound to this context's language, and
    the number and date filters (`num`, `day`, `moment`): the report and every web page use the same."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)
    environment.filters.setdefault("num", format_number)
    environment.filters.setdefault("day", format_day)
    environment.filters.setdefault("moment", format_moment)
    environment.globals.update(language_tag=tag, language_names=NAMES)
