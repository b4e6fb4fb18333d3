# Two commands for a fresh machine: `make train` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
EXTRAS ?= test,mujoco,box2d,ray,video,envpool,gymnax,brax,atari,tune
GYMNAX ?= gymnax==1.0.1

.PHONY: install train test lint format clean bench quality defaults

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e ".[$(EXTRAS)]"
	case ",$(EXTRAS)," in *,gymnax,*) $(BIN)/python -m pip install -qq --no-deps "$(GYMNAX)";; esac
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Train CartPole-v1 with the defaults and print the run's summary.
train: $(STAMP)
	$(BIN)/trpo train CartPole-v1

## Lint, then the whole test suite.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --durations=15

## Speed against sb3-contrib TRPO (whole run and steady state) and the env's random-action ceiling; writes docs/benchmarks.md (about 12 minutes on a quiet 2-core machine, 2026-12-04).
BENCH_STAMP := $(VENV)/.bench-$(shell cksum pyproject.toml | cut -d' ' -f1)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),bench]"
	rm -f $(VENV)/.bench-*
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/speed.py --out docs/benchmarks.md

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache

## Train every MuJoCo env x 10 seeds at 1M steps (resumable), record them in docs/results-runs.csv, write docs/results.md.
quality: $(STAMP)
	nice -n 10 $(BIN)/python benchmarks/quality.py $(QUALITY_ARGS)

## Train the family defaults' suite (classic control at the zoo's budgets, MuJoCo at 1M, 3 seeds; resumable) and write docs/results-defaults.md.
defaults: $(STAMP)
	nice -n 10 $(BIN)/python benchmarks/defaults.py $(DEFAULTS_ARGS)
