# gameday — one entry point for people and CI.  `make demo` and `make test` set everything up themselves.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs the pinned dependencies in a third of pip's time (same versions).  --compile-bytecode: pip
# compiles on install and uv does not; with PYTHONDONTWRITEBYTECODE set (as on CI) every one of the suites'
# hundreds of `gameday` processes then compiled its imports again (2-4 s more each; the whole run took 35 % longer).
UV_VERSION := 0.13.8
APT_PACKAGES := postgresql pgbouncer prometheus prometheus-alertmanager openssl curl \
                docker.io debootstrap jq iptables chromium
APT_STAMP := /var/tmp/gameday-apt-$(shell echo "$(APT_PACKAGES)" | md5sum | cut -c1-8).stamp
OUT ?= out

.PHONY: setup system-deps venv toxiproxy k8s-testenv docker-up docker-down kind-build kind-clean demo test test-fast lint \
        bench chaos e2e-kind clean
#: prints how long each stage of `make test` takes (CI keeps the log)
STAGE := tools/stage.sh

setup: system-deps venv toxiproxy ## install Debian packages, the Python venv and the sandbox's Toxiproxy

system-deps: $(APT_STAMP)
$(APT_STAMP):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; \
	  printf '#!/bin/sh\nexit 101\n' | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null; $$SUDO chmod +x /usr/sbin/policy-rc.d; fi; \
	$$SUDO apt-get update -qq && \
	$$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; status=$$?; \
	if [ -n "$$guard" ]; then $$SUDO rm -f /usr/sbin/policy-rc.d; fi; \
	[ $$status = 0 ] && $$SUDO touch $@

venv: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
toxiproxy: venv ## the sandbox's network-fault proxy, built from its Go module (cached outside the repo)
	@GO="$(GO)" $(BIN)/python -m drills.k8s.build.toxiproxy

k8s-testenv: ## build the local Kubernetes control plane used by tests (cached outside the repo)
	@$(STAGE) k8s-testenv env GO="$(GO)" tools/k8s-testenv/build.sh

docker-up: system-deps ## start a Docker daemon for kind where none answers (CI); a running one is left alone
	@$(STAGE) docker-up tools/kind/dockerd.sh up

docker-down: ## stop the daemon docker-up started; remove its iptables rules and bridges
	@tools/kind/dockerd.sh down

kind-build: setup k8s-testenv docker-up ## build kind, the kind node image and the app images (cached by version)
	@$(STAGE) kind-build env GO="$(GO)" $(BIN)/gameday cluster build

kind-clean: ## delete the kind clusters the tests create (if a daemon answers)
	@if tools/kind/dockerd.sh status | grep -q running; then \
	  for name in $$(awk '!/^#/ && NF { print $$2 }' tools/kind/test-clusters); do \
	    $(BIN)/gameday cluster down --name $$name >/dev/null || true; done; fi

demo: setup ## the main job: an autopilot game day on the local sandbox, scored and reported
	$(BIN)/gameday demo --out $(OUT)/demo

test: ## the whole test suite as CI runs it (sets up the machine, kind suite included; starts Docker where none runs): tools/test.sh
	@GO="$(GO)" tools/test.sh

test-fast: venv ## pure-logic tests only (no services)
	$(BIN)/pytest -q -m "not sandbox and not k8s and not kind and not slow"

lint: venv
	$(BIN)/ruff check .

bench: setup ## speed figures: simulator, sweeps, sandbox drills, war room, kind (bench_kind needs a Docker daemon: make docker-up)
	$(BIN)/python benchmarks/run_all.py

chaos: setup ## reliability figures: kill -9 anywhere, dying dependencies, many writers, fuzzed input (benchmarks/bench_chaos.py)
	$(BIN)/python benchmarks/run_all.py bench_chaos

e2e-kind: kind-build ## game days on a real kind cluster: every scenario, autopilot and kubectl responders
	@status=0; $(STAGE) e2e-kind $(BIN)/pytest -q -m kind tests/kind || status=$$?; \
	$(MAKE) --no-print-directory kind-clean docker-down; exit $$status

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
