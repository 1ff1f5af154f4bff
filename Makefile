# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test check fmt bench bench-peers clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark,postgres]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/enclave demo $(if $(PERSONS),--persons $(PERSONS),) $(if $(ENGINE),--engine $(ENGINE),)

test: install
	./scripts/ensure-system-packages.sh
	$(BIN)/python -m pytest -n 2 --dist worksteal --timeout 600 --durations 15

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy enclave pseudonymize dashboards

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/gateway.py

# The gateway vs SmartNoise SQL, Tumult Analytics and OpenDP Polars, each in a venv of its own.
bench-peers: install
	for p in smartnoise tumult opendp; do \
	  test -x .venv-peers/$$p/bin/python || $(PYTHON) -m venv .venv-peers/$$p; \
	  .venv-peers/$$p/bin/pip install --quiet -r bench/requirements-peers-$$p.txt || exit 1; \
	done
	echo '*' > .venv-peers/.gitignore
	nice -n 10 $(BIN)/python bench/peers.py $(if $(PERSONS),--persons $(PERSONS),)

clean:
	rm -rf $(VENV) .enclave .pytest_cache .mypy_cache .ruff_cache
