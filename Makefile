# Lotse — the two commands are `make demo` (run a node with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo apt-get || echo "sudo apt-get")

.PHONY: demo node test system-packages lint typecheck events-docs privacy-docs bench screenshots clean

$(STAMP): pyproject.toml constraints.txt
	@# Debian ships venv separately; as root with apt, install it when missing.
	$(PYTHON) -m venv $(VENV) || { $(APT) install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	@# swagger-ui-bundle-v2 (Swagger UI 5, OpenAPI 3.1) installs the same module as swagger-ui-bundle 1.x.
	$(BIN)/pip uninstall -q -y swagger-ui-bundle 2>/dev/null || true
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## run the demo: seeded nodes on the embedded default (SQLite + embedded Valkey/Redis)
	$(BIN)/lotse demo

node: $(STAMP)  ## run one node from LOTSE_* settings
	$(BIN)/lotse node up

# The suite runs in TEST_JOBS processes (pytest-xdist): one per core, at most four. Every test starts its own
# servers on free ports and works in its own directory and PostgreSQL schema, so files run side by side; a
# file's tests stay together and in their order (--dist loadfile): some share a module's nodes and build on
# what the tests before them wrote.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
test: $(STAMP) system-packages  ## run the whole test suite against real servers it starts itself
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile

# Debian packages the tests use when present: redis-server (beside the embedded Valkey) and chromium
# (tests/browser drive it through Playwright, which downloads no browser of its own).
SYSTEM_PACKAGES := redis-server:redis-server chromium:chromium
system-packages:
	@for pair in $(SYSTEM_PACKAGES); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null && continue; \
	  echo "installing $$pkg (Debian)"; \
	  { DEBIAN_FRONTEND=noninteractive $(APT) install -y -q $$pkg >/dev/null 2>&1 || \
	    { $(APT) update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q $$pkg >/dev/null; }; } || \
	    echo "WARNING: could not install $$pkg: the tests that need $$cmd are skipped"; \
	done
	@# The printable plan sets Arabic, Persian and Cyrillic in DejaVu Sans (services/plans/templates/plan.html).
	@fc-list :lang=ar family 2>/dev/null | grep -q "DejaVu Sans" || { echo "installing fonts-dejavu-core (Debian)"; \
	  DEBIAN_FRONTEND=noninteractive $(APT) install -y -q fonts-dejavu-core >/dev/null 2>&1 || \
	  echo "WARNING: could not install fonts-dejavu-core: printed plans lack Arabic and Persian glyphs"; }

lint: $(STAMP)
	$(BIN)/ruff check shared services web tests bench
	$(BIN)/mypy

events-docs: $(STAMP)  ## regenerate docs/events (AsyncAPI + JSON Schemas)
	$(BIN)/lotse events docs --out docs/events

privacy-docs: $(STAMP)  ## regenerate docs/data-protection.md (the register of personal data) from the model marks
	$(BIN)/python -m shared.register docs/data-protection.md

bench: $(STAMP)
	$(BIN)/python bench/bus.py

screenshots: $(STAMP) system-packages  ## refresh docs/screenshots (the README's): a fresh demo, each role in Chromium
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) var
