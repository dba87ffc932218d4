# iaewatch — the two commands that matter: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint pytest bench bench-full install browser clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: a simulated ICU on this machine; prints the station URL and a demo login
demo: install
	$(BIN)/iaewatch demo

## test: lint, types, then the whole test suite (browser tests need Debian's chromium)
test: install browser lint pytest

# one worker per core (PYTEST_WORKERS=0 runs in this process, e.g. to use a debugger)
PYTEST_WORKERS ?= auto
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not benches"
	$(BIN)/pytest -m benches tests/test_benches.py

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

## browser: Debian's chromium for the Playwright tests (never a downloaded browser)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "make: could not install chromium; browser tests will be skipped"; \
	  else echo "make: /usr/bin/chromium missing; browser tests will be skipped"; fi; \
	fi

## bench: benchmarks that print figures, each with its yardstick (a few minutes)
BENCH_QUICK := \
  "bench_engine.py --hours 2 --beds 5" \
  "bench_store.py --seconds 5 --rounds 1" \
  "bench_alert_commit.py --commits 40" \
  "bench_storage.py --minutes 60" \
  "bench_station_scale.py --beds 100 --clients 20 --seconds 15" \
  "bench_station_scale.py --beds 100 --clients 20 --seconds 15 --database postgresql" \
  "bench_alarm_delay.py --beds 50 --monitors" \
  "bench_ws.py" "bench_hl7.py" "bench_medibus.py" "bench_intellivue.py"
## bench-full: the long runs (500 beds, 24 h replays, the MIMIC-IV alert burden)
BENCH_FULL := \
  "bench_engine.py" \
  "bench_station_scale.py --beds 500 --clients 100 --client-procs 4 --seconds 25 --alarms 60" \
  "bench_station_scale.py --beds 500 --clients 100 --client-procs 4 --seconds 25 --alarms 60 --database postgresql" \
  "bench_station_scale.py --beds 500 --clients 100 --client-procs 4 --seconds 25 --alarms 60 --burst" \
  "bench_alarm_delay.py --beds 100 --monitors" "bench_sim_beds.py --stagger" "bench_burden.py"

bench: install
	@for b in $(BENCH_QUICK); do echo "== $$b"; $(BIN)/python bench/$$b || exit 1; done

bench-full: install
	@for b in $(BENCH_FULL); do echo "== $$b"; $(BIN)/python bench/$$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
