# dlq-tui — `make demo` and `make test` do all set-up on a fresh machine (Python 3.11+, Java 17, Maven).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STACK := compose/stack
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install system-deps stack-up stack-down stack-status demo seed test test-fast fuzz soak lint format bench lock clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# constraints.txt pins every package (runtime and dev); `make lock` refreshes it.
$(VENV)/.installed: $(BIN)/activate pyproject.toml constraints.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

system-deps:
	compose/system-deps

stack-up: system-deps
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

seed: install stack-up
	$(BIN)/python -m dlq_tui.demo seed

demo: seed
	$(BIN)/dlq-tui -b 127.0.0.1:$${DLQ_TUI_KAFKA_PORT:-9092} -g order-canceled-consumer -a \
	  -c schema.registry.url=http://127.0.0.1:$${DLQ_TUI_REGISTRY_PORT:-8081} \
	  order-canceled-dead-letter-queue order-canceled-retry-1

# The stack goes down even when the tests fail; the exit status is pytest's.
test: install system-deps
	@status=0; $(STACK) up || status=$$?; \
	if [ $$status -eq 0 ]; then eval "$$($(STACK) env)"; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; fi; \
	$(STACK) down; exit $$status

# Everything that needs no broker and no registry (pilot and snapshot tests on the in-memory engine).
test-fast: install
	DLQ_TUI_TEST_BOOTSTRAP=127.0.0.1:1 DLQ_TUI_TEST_REGISTRY_URL=http://127.0.0.1:1 $(BIN)/pytest -m "not stack" -n 4 $(PYTEST_ARGS)

# Thousands of hypothesis examples per target (decoders, DLQ headers, filters); no broker needed.
fuzz: install
	DLQ_TUI_FUZZ_EXAMPLES=$${DLQ_TUI_FUZZ_EXAMPLES:-5000} $(BIN)/pytest tests/test_fuzz.py -q --timeout 3600

# Not in CI: 200,000 records in 40 commits with kills, broker restarts and fencing on a private
# broker, and three engineers for 50 rounds; figures (JSON lines) go to soak-figures.jsonl.
soak: install system-deps stack-up
	eval "$$($(STACK) env)"; \
	DLQ_TUI_SOAK_RECORDS=$${DLQ_TUI_SOAK_RECORDS:-200000} DLQ_TUI_SOAK_COMMITS=$${DLQ_TUI_SOAK_COMMITS:-40} \
	DLQ_TUI_FAULT_ROUNDS=$${DLQ_TUI_FAULT_ROUNDS:-50} DLQ_TUI_FAULT_FIGURES=$${DLQ_TUI_FAULT_FIGURES:-soak-figures.jsonl} \
	$(BIN)/pytest tests/test_faults_soak.py tests/test_faults_concurrent.py -q -p no:logging --timeout 7200

lint: install
	$(BIN)/ruff check dlq_tui tests bench
	$(BIN)/ruff format --check dlq_tui tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix dlq_tui tests bench
	$(BIN)/ruff format dlq_tui tests bench

bench: install stack-up
	eval "$$($(STACK) env)"; $(BIN)/python -m bench $(BENCH_ARGS)

lock: $(BIN)/activate
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip freeze --exclude-editable --exclude dlq-tui | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
