"""Which language a person gets, and what the CLI's errors read like in each: English by default, Simplified
Chinese from --lang, PCF_LANG or the POSIX locale, numbers and dates in the locale's own form (CLDR via Babel)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner

from lca_models import i18n
from pcf.cli import main


@pytest.mark.parametrize(("written", "language"), [
    ("zh-CN", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans", "zh_CN"), ("zh-Hans-CN", "zh_CN"),
    ("en", "en"), ("en_GB.UTF-8", "en"), ("C", "en"), ("POSIX", "en"),
    ("zh-TW", None), ("zh-Hant", None), ("de_DE.UTF-8", None), ("", None)])
def test_language_names_people_and_systems_write(written, language):
    assert i18n.normalise(written) == language


def test_cli_language_comes_from_pcf_lang_then_posix_locale_variables():
    assert i18n.from_environment({}) == "en"
    assert i18n.from_environment({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert i18n.from_environment({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}) == "en"  # LC_ALL decides first
    assert i18n.from_environment({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert i18n.from_environment({"PCF_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}) == "en"
    assert i18n.from_environment({"LANG": "fr_FR.UTF-8"}) == "en"  # a language we do not have: English


def test_accept_language_honours_quality_values():
    assert i18n.best_match("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.best_match("en-US,en;q=0.9,zh-CN;q=0.8") == "en"
    assert i18n.best_match("fr-FR, zh;q=0.5") == "zh_CN"
    assert i18n.best_match("zh-TW, fr") is None and i18n.best_match(None) is None
    assert i18n.best_match("zh-CN;q=0, en;q=0.1") == "en"


def test_numbers_and_dates_take_the_locales_own_form():
    with i18n.using("zh-CN"):
        assert i18n.format_number(Decimal("12345.67891")) == "12,345.6789"
        assert i18n.format_day(date(2025, 1, 1)) == "2025年1月1日"  # CLDR zh long date
        assert i18n.format_moment(datetime(2025, 1, 1, 8, 5, tzinfo=timezone.utc)).startswith("2025年1月1日")
    with i18n.using("en"):
        assert i18n.format_number(Decimal("12345.67891"), 2) == "12,345.68"
        assert i18n.format_day(date(2025, 1, 1)) == "January 1, 2025"
    assert i18n.current() == "en"


def test_cli_errors_in_both_languages(tmp_path, monkeypatch):
    for name in ("PCF_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    missing = tmp_path / "missing.yaml"
    runner = CliRunner()
    english = runner.invoke(main, ["compute", str(missing)])
    assert english.exit_code == 2 and f"error: {missing}: file not found" in english.output
    chinese = runner.invoke(main, ["--lang", "zh-CN", "compute", str(missing)])
    assert chinese.exit_code == 2 and f"错误：{missing}: 找不到文件" in chinese.output
    assert "Traceback" not in chinese.output
    from_locale = runner.invoke(main, ["compute", str(missing)], env={"LANG": "zh_CN.UTF-8"})
    assert "找不到文件" in from_locale.output
    on_the_command = runner.invoke(main, ["compute", str(missing), "--lang", "zh-CN"])
    assert "找不到文件" in on_the_command.output
    assert i18n.current() == "en"  # each run gives the process its language back

    model = tmp_path / "model.yaml"
    model.write_text(yaml.safe_dump({"company": {"name": "Co", "ids": ["urn:x:co"]},
                                     "reference_period": {"start": "2025-01-01", "end": "2025-12-31"},
                                     "products": [{"flow": "widget", "name": "Widget", "ids": ["urn:x:w"],
                                                   "declared_unit": "kilogram", "mass_per_declared_unit": 1}],
                                     "processes": [{"id": "make", "outputs": [{"flow": "widget", "amount": 1,
                                                                               "unit": "t"}],
                                                    "fules": [], "inputs": [{"dataset": "material:steel_bf_bfo",
                                                                             "amount": -1, "unit": "t"}]}]}))
    english = runner.invoke(main, ["compute", str(model)])
    assert english.exit_code == 1
    assert f"error: {model}: processes[0].fules: unknown field; did you mean 'fuels'?" in english.output
    assert f"error: {model}: processes[0].inputs[0].amount: must be > 0" in english.output
    chinese = runner.invoke(main, ["--lang", "zh-CN", "compute", str(model)])
    assert chinese.exit_code == 1
    assert f"错误：{model}: processes[0].fules: 未知字段；是否应为 'fuels'？" in chinese.output
    assert f"错误：{model}: processes[0].inputs[0].amount: 必须 > 0" in chinese.output
