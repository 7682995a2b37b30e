# rokuon — the two commands of the README:
#   make run    set up, initialise the embedded default, load demo calls, serve
#   make test   set up and run the whole test suite (SQLite, then PostgreSQL)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export ROKUON_HOME ?= $(CURDIR)/.rokuon-demo
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8420

.PHONY: run test test-sqlite test-postgres setup lint bench eval eval-analysis clean

$(BIN)/rokuon: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build (see README: PIP_EXTRA_INDEX_URL for other machines)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/rokuon

setup: $(BIN)/rokuon

run: setup
	$(BIN)/python scripts/demo.py --host $(HOST) --port $(PORT)

/usr/bin/chromium:
	# the browser test drives Debian's chromium (never a downloaded one)
	(apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) || echo "chromium not installed: browser test will be skipped"

test: setup /usr/bin/chromium
	$(BIN)/ruff check src tests scripts
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

test-sqlite:
	env -u ROKUON_HOME -u ROKUON_DATABASE_URL $(BIN)/pytest -q

test-postgres:
	env -u ROKUON_HOME -u ROKUON_DATABASE_URL ROKUON_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests scripts

eval: setup
	$(BIN)/python scripts/evaluate.py
	$(BIN)/python scripts/evaluate_analysis.py
	$(BIN)/python scripts/evaluate_topics.py --aside-share 0.6 --misheard 0.3
	$(BIN)/python scripts/evaluate_summaries.py

eval-analysis: setup
	$(BIN)/python scripts/evaluate_analysis.py

bench: setup
	$(BIN)/python scripts/benchmark.py

clean:
	rm -rf $(VENV) .rokuon-demo .pytest_cache .ruff_cache
