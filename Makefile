VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install browser run test test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# the demo shop is generated once; `churn run --data your_shop/` never runs the generator
data/synthetic: | $(VENV)/.installed
	$(VENV)/bin/churn synth --out data/synthetic

run: install data/synthetic
	$(VENV)/bin/churn run

# headless Chromium renders the HTML report in a test (Debian package, needs root)
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "could not install chromium: the report test will fail (apt-get install chromium)"

test: install browser
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not slow"

bench: install
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/features.py
	$(PY) benchmarks/train.py
	$(PY) benchmarks/scoring.py
	$(PY) benchmarks/reasons.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf data/canonical data/synthetic data/features* data/products* reports exports artifacts
