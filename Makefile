VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install browser run test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/dvc repro

# headless Chromium renders the HTML report in a test (Debian package, needs root)
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
	  echo "could not install chromium: the report test will fail (apt-get install chromium)"

test: install browser
	$(VENV)/bin/pytest

bench: install
	$(PY) benchmarks/features.py
	$(PY) benchmarks/train.py
	$(PY) benchmarks/scoring.py
	$(PY) benchmarks/reasons.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf data/canonical data/synthetic data/features* reports exports artifacts
