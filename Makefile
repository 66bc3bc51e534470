# kb — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CORPUS ?= corpus/forum-2012-final-report.md corpus/ungd-2024
HOST   ?= 127.0.0.1
PORT   ?= 5000
export KB_HOME ?= instance

.PHONY: run test lint bench clean install ingest serve opensearch-up opensearch-down

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The default corpus has ~2,000 passages: embedding them takes minutes, so `make run` serves
# at once (bm25) and embeds in the background; hybrid starts with the last vector.
ingest: $(STAMP)
	$(VENV)/bin/kb ingest --no-embed $(CORPUS)

run: ingest
	$(VENV)/bin/kb embed --background
	$(VENV)/bin/kb serve --host $(HOST) --port $(PORT)

# the OpenSearch tests need a cluster: started here (unless one runs), stopped at the end
test: $(STAMP)
	$(PY) scripts/opensearch.py with-cluster -- $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check kb indexer web tests bench scripts

opensearch-up:
	$(PYTHON) scripts/opensearch.py up

opensearch-down:
	$(PYTHON) scripts/opensearch.py down

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf instance .pytest_cache build *.egg-info bench-out test-artifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
