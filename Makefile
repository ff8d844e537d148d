# gameday — one entry point for people and CI.  `make demo` and `make test` set everything up themselves.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := postgresql pgbouncer prometheus prometheus-alertmanager openssl curl
APT_STAMP := /var/tmp/gameday-apt-$(shell echo "$(APT_PACKAGES)" | md5sum | cut -c1-8).stamp
OUT ?= out

.PHONY: setup system-deps venv k8s-testenv demo test test-fast lint bench e2e-kind clean

setup: system-deps venv ## install Debian packages and the Python venv

system-deps: $(APT_STAMP)
$(APT_STAMP):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get update -qq && \
	$$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null && \
	$$SUDO touch $@

venv: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
k8s-testenv: ## build the local Kubernetes control plane used by tests (cached outside the repo)
	@if [ -x "$(GO)" ] && [ -x tools/k8s-testenv/build.sh ]; then GO="$(GO)" tools/k8s-testenv/build.sh; \
	else echo "k8s-testenv: Go or tools/k8s-testenv/build.sh missing; Kubernetes tests will skip"; fi

demo: setup ## the main job: an autopilot game day on the local sandbox, scored and reported
	$(BIN)/gameday demo --out $(OUT)/demo

test: setup k8s-testenv ## the whole test suite, as CI runs it
	$(BIN)/ruff check .
	$(BIN)/pytest -q

test-fast: venv ## pure-logic tests only (no services)
	$(BIN)/pytest -q -m "not sandbox and not k8s and not kind and not slow"

lint: venv
	$(BIN)/ruff check .

bench: setup ## speed figures: simulator and sandbox drills
	$(BIN)/python benchmarks/run_all.py

e2e-kind: setup ## a full autopilot drill on a real kind cluster (needs Docker and kind)
	$(BIN)/pytest -q -m kind tests/k8s/test_kind_e2e.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
