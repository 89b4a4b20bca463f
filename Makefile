# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PCF_DATA_DIR ?= $(CURDIR)/.pcf-data

.PHONY: demo test test-slow conformance bench bench-scale clean i18n

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# Debian's chromium for the browser tests (Playwright drives it; no browser download), a CJK font for the
	# Simplified Chinese pages and charts (fonts-noto-cjk) and LibreOffice Calc, which recalculates the CBAM template
	# the toolkit writes with the Commission's own formulas. Skipped without apt/root.
	{ command -v chromium >/dev/null && fc-list 2>/dev/null | grep -q "Noto Sans CJK" && command -v soffice >/dev/null; } || \
		{ command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk libreoffice-calc-nogui; } || \
		echo "chromium, fonts-noto-cjk or LibreOffice not installed: the browser and LibreOffice tests will skip"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pcf demo

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# crash-safety loops (SIGKILL x 20 rounds) and 8+8-process concurrency, on SQLite and PostgreSQL: a few minutes
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# WBCSD's official PACT conformance tests (V3.0 and V2.3, server mode) against a node set up with the pcf CLI, on
# SQLite and PostgreSQL; needs WBCSD's conformance service (not part of this repository): scripts/conformance.sh
PACT_CONFORMANCE ?= ../shared/pact/conformance
conformance: $(STAMP)
	PACT_CONFORMANCE=$(PACT_CONFORMANCE) scripts/conformance.sh

bench: $(STAMP)
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_pact.py
	$(PY) benchmarks/bench_node.py
	$(PY) benchmarks/bench_cbam.py
	$(PY) benchmarks/bench_uncertainty.py

# 1,000,000 footprints COPYed into PostgreSQL (127.0.0.1:5432, a database it creates and drops), the query plans,
# then 16 wrk clients per query kind against `pcf serve`: longer than 5 minutes, so not part of `make bench`
bench-scale: $(STAMP)
	$(PY) benchmarks/bench_scale.py

clean:
	rm -rf $(VENV) .pcf-data .pytest_cache

# The translation catalogues (docs/i18n.md): extract every marked string, merge it into each language's .po (new
# strings arrive untranslated; tests/i18n fails until they are translated), compile the .mo shipped with the package
LOCALE := lca_models/locale
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output --project carbon-exchange \
		--copyright-holder "carbon-exchange contributors" -o $(LOCALE)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D messages --statistics
