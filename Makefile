# The two commands of the README: `make run` and `make test`. Both set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Test modules run side by side in this many processes (pytest-xdist, a module per worker): most of the
# end-to-end tests wait on processes they started, so three fit on two cores. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
BENCH_ARGS ?=

.PHONY: run test lint bench clean proto console-vendor

run:
	@bash scripts/setup.sh run
	@$(VENV)/bin/elasticjob dev

test:
	@bash scripts/setup.sh test
	@$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint:
	@bash scripts/setup.sh test
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy elasticjob

# Every benchmark of bench/ (JSON in bench/results.json, a table on stdout); then the README's table.
bench:
	@bash scripts/setup.sh test
	@$(PY) -m bench --all $(BENCH_ARGS)
	@$(PY) -m bench --readme

clean:
	rm -rf .run build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Refresh the console's vendored toolkit (Preact+htm, Pico CSS) from the npm registry (committed).
console-vendor:
	@bash scripts/vendor-console.sh

# Regenerate the gRPC/protobuf code in elasticjob/protocol from proto/ (the generated files are committed).
proto:
	@bash scripts/setup.sh test
	@$(PY) -m grpc_tools.protoc -Iproto --python_out=. --grpc_python_out=. --pyi_out=. proto/elasticjob/protocol/agent.proto
