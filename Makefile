# The README's two commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: demo test venv server sandbox-down clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/segsync sandbox up
	$(BIN)/segsync sandbox seed
	$(BIN)/segsync run
	@echo ""
	@echo "The sandboxes are still running (env in .segsync/sandbox.env)."
	@echo "Run '$(BIN)/segsync run' again, or stop them with '$(BIN)/segsync sandbox down'."

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/segsync test

server: $(STAMP)
	$(BIN)/prefect server start

sandbox-down: $(STAMP)
	$(BIN)/segsync sandbox down

bench: $(STAMP)
	$(BIN)/python bench/seed.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/sync.py

clean:
	-$(BIN)/segsync sandbox down
	rm -rf .segsync target
