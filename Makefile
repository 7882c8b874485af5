# The two commands of the README, and their helpers.
#
#   make run    the service on :8080 (`crm serve`), on a private PostgreSQL under .data/
#               unless DATABASE_URL is set; migrations are applied at start
#   make test   the same database, then the whole test suite
#
# Without DATABASE_URL, scripts/local-postgres.sh installs PostgreSQL if missing (as root,
# with apt-get), creates a socket-only cluster under .data/ and starts it.

SHELL := /bin/bash
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
LOCAL_PG := scripts/local-postgres.sh
# Recipes expand this when they run, i.e. after `database` has started the private cluster.
DB_URL = $(if $(DATABASE_URL),$(DATABASE_URL),$(shell bash $(LOCAL_PG) url))

.PHONY: bench-topologies test-citus test-failover test-pgbouncer test-packages all build run crm test check python-deps test-asan soak database stop-db db-url packages clean fuzz faults bench bench-webhooks bench-imports bench-ab bench-instructions bench-http check-compose

all: build

packages:
	@bash $(LOCAL_PG) ensure-packages

database: packages
	@if [ -z "$$DATABASE_URL" ]; then bash $(LOCAL_PG) start; fi

build: packages
	$(SWIFT) build

# CRM_PORT, CRM_HOST, CRM_POOL_SIZE, … pass through from the environment (README: Configuration).
run: database build
	DATABASE_URL='$(DB_URL)' .build/debug/crm serve

# The crm command line against the same database: make -s crm ARGS='key create --listing 12'
# (build output goes to standard error, so standard output is the command's alone).
crm: database
	@$(SWIFT) build >&2
	@DATABASE_URL='$(DB_URL)' .build/debug/crm $(ARGS)

# The XCTest suite; the fault scenarios (about a minute, each on its own throwaway cluster); the
# failover harness (primary + standby, kill -9, promote); the contacts API tests again through
# PgBouncer in transaction pooling mode, and again on a Citus cluster. CRM_TESTS_REQUIRE_DATABASE=1 turns a missing database
# or privilege into a failure (a plain `swift test` skips those tests instead); the skipped
# count is printed and must be 0. test-packages comes first: installing PostgreSQL's server
# headers upgrades the server, which a cluster started before must not see.
XCTEST_LOG = .build/xctest.log
test: test-packages database check python-deps
	$(SWIFT) build --build-tests
	set -o pipefail; DATABASE_URL='$(DB_URL)' CRM_TESTS_REQUIRE_DATABASE=1 $(SWIFT) test --skip-build --disable-swift-testing 2>&1 | tee $(XCTEST_LOG)
	@skipped=$$(grep -c "^Test Case '.*' skipped" $(XCTEST_LOG)); echo "XCTest: $$skipped test(s) skipped"; test "$$skipped" -eq 0
	python3 scripts/faults.py .build/debug/crm
	python3 scripts/failover.py .build/debug/crm
	$(MAKE) --no-print-directory test-pgbouncer
	$(MAKE) --no-print-directory test-citus

# The code's shape (docs/ARCHITECTURE.md): no Swift file over 300 lines, no function over 60, and
# every imported module a declared dependency (also prints the module graph).
check: packages
	python3 scripts/check-sizes.py
	python3 scripts/module-graph.py --swift $(SWIFT)

# The tests verify webhook signatures with the standardwebhooks package from PyPI (not our
# code); installed into .build/python when the machine's python3 lacks it.
python-deps:
	@python3 -c 'import standardwebhooks' 2>/dev/null || PYTHONPATH=.build/python python3 -c 'import standardwebhooks' 2>/dev/null || \
		python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target .build/python standardwebhooks

stop-db:
	@bash $(LOCAL_PG) stop

db-url:
	@echo '$(DB_URL)'

# libFuzzer (with AddressSanitizer) on every input path, each target for FUZZ_SECONDS in its own
# scratch path (sanitizers rebuild every module): the HTTP request parser, then the contacts
# API's form, JSON and multipart bodies, validation rules and the whole request through the
# router over a stub database (Sources/ContactsFuzzer). Seeds: the committed corpora; new
# inputs land in .build-fuzz/corpus/<target>. Prints executions per target; a crash stops it.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= form json multipart validation router csv ndjson
FUZZ_FLAGS = -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING
fuzz:
	$(SWIFT) build $(FUZZ_FLAGS) --product http-parser-fuzzer
	$(SWIFT) build $(FUZZ_FLAGS) --product contacts-fuzzer
	mkdir -p .build-fuzz/corpus/http-parser
	.build-fuzz/release/http-parser-fuzzer .build-fuzz/corpus/http-parser Sources/HTTPParserFuzzer/corpus \
		-max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 2>&1 | tee .build-fuzz/http-parser.log | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" ; \
		test $${PIPESTATUS[0]} -eq 0
	for target in $(FUZZ_TARGETS); do \
		mkdir -p .build-fuzz/corpus/$$target; \
		echo "fuzz: $$target"; \
		CRM_FUZZ_TARGET=$$target .build-fuzz/release/contacts-fuzzer .build-fuzz/corpus/$$target Sources/ContactsFuzzer/corpus/$$target \
			-max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 > .build-fuzz/$$target.log 2>&1 \
			|| { tail -n 40 .build-fuzz/$$target.log; exit 1; }; \
		grep -E "stat::number_of_executed_units" .build-fuzz/$$target.log; \
	done

# The whole XCTest suite under AddressSanitizer, in its own scratch path (every module rebuilt).
test-asan: database
	$(SWIFT) build --build-tests --scratch-path .build-asan -Xswiftc -sanitize=address
	DATABASE_URL='$(DB_URL)' CRM_TESTS_REQUIRE_DATABASE=1 ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --skip-build --scratch-path .build-asan --disable-swift-testing

# Fault scenarios (scripts/faults.py): kill -9 of PostgreSQL under writes, pool exhaustion,
# slow and vanishing clients, SIGTERM under load; each on a throwaway cluster. FAULTS picks some.
faults: packages
	$(SWIFT) build --product crm
	python3 scripts/faults.py .build/debug/crm $(FAULTS)

# SOAK_SECONDS (600) of mixed load; RSS and open descriptors sampled every 10 s stay flat.
soak:
	bash bench/soak.sh

# Every scenario against its database ceiling (pgbench); SEED, DURATION, CONNECTIONS, SCENARIOS.
bench:
	bash bench/run.sh

# Webhook delivery: commit-to-receipt latency at RATE (1000) writes/s, and post_create with an
# active endpoint against without (bench/webhooks.sh).
bench-webhooks:
	bash bench/webhooks.sh

# Bulk import (1,000,000 and 30,000 rows, end to end) and export against psql's \copy of the
# same rows, with the server's RSS growth (bench/imports.sh).
bench-imports:
	bash bench/imports.sh

# What the multi-node tests need beyond `packages`: pgbouncer, and PostgreSQL's server headers
# (postgresql-server-dev-15, for building Citus), installed before any cluster starts.
test-packages: packages
	@command -v pgbouncer >/dev/null || { test "$$(id -u)" -eq 0 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; }
	@bash scripts/citus-install.sh

# The contacts API tests (every ContactsTestCase) with the application's connections through a
# real PgBouncer in transaction pooling mode and `--statement-mode unnamed` (scripts/pgbouncer.sh).
PGBOUNCER_LOG = .build/xctest-pgbouncer.log
test-pgbouncer: test-packages database
	$(SWIFT) build --build-tests
	bash scripts/pgbouncer.sh start '$(DB_URL)'
	set -o pipefail; DATABASE_URL='$(DB_URL)' CRM_TESTS_REQUIRE_DATABASE=1 CRM_TESTS_POOLER="host=127.0.0.1 port=$$(bash scripts/pgbouncer.sh port)" \
		$(SWIFT) test --skip-build --disable-swift-testing --filter ContactsTests 2>&1 | tee $(PGBOUNCER_LOG) | grep -E "error:|Executed .* tests" ; \
		status=$$?; bash scripts/pgbouncer.sh stop; test $$status -eq 0 && ! grep -q "error:" $(PGBOUNCER_LOG)
	@skipped=$$(grep -c "^Test Case '.*' skipped" $(PGBOUNCER_LOG)); echo "XCTest through PgBouncer: $$skipped test(s) skipped"; test "$$skipped" -eq 0

# The contacts API tests on a Citus cluster (a coordinator and two workers on loopback,
# scripts/citus-cluster.sh): each test database is bootstrapped on the three nodes, migrated,
# then distributed by listing (sql/citus/distribute.sql, run by the migrator when the citus
# extension is there).
CITUS_LOG = .build/xctest-citus.log
test-citus: test-packages
	$(SWIFT) build --build-tests
	bash scripts/citus-cluster.sh start
	set -o pipefail; DATABASE_URL="$$(bash scripts/citus-cluster.sh url)" CRM_TESTS_REQUIRE_DATABASE=1 \
		CRM_TESTS_CITUS_WORKERS="$$(bash scripts/citus-cluster.sh worker-urls | tr '\n' ' ')" \
		$(SWIFT) test --skip-build --disable-swift-testing --filter ContactsTests 2>&1 | tee $(CITUS_LOG) | grep -E "error:|Executed .* tests" ; \
		status=$$?; bash scripts/citus-cluster.sh stop; test $$status -eq 0 && ! grep -q "error:" $(CITUS_LOG)

# The same mixed load against each topology: one node, through PgBouncer, on Citus
# (bench/topologies.sh; docs/SCALING.md has the latest rows).
bench-topologies:
	bash bench/topologies.sh

# Failover (API.md §14, issue 17): a primary and a streaming standby, 16 writers, kill -9 of the
# primary, pg_ctl promote (scripts/failover.py; sync and async; also run by make test).
test-failover: packages build
	python3 scripts/failover.py .build/debug/crm $(FAILOVER_MODES)

# Before/after: BINARIES="a/crm b/crm" side by side on make bench's database, rounds interleaved
# so that drift favours neither (SCENARIOS, ROUNDS, DURATION; DATABASES: one database each).
bench-ab:
	bash bench/ab.sh

# Instructions per request (valgrind callgrind) for parsing, parameters, the database call and
# rendering: stable where timings drift. REQUESTS per kind (500).
bench-instructions:
	bash bench/instructions.sh

# The HTTP layer against nginx serving the same bytes (wrk, 64 connections); prints the ratio.
bench-http:
	bash bench/http.sh

# Validates docker-compose.yml (no Docker engine needed): installs docker-compose if missing.
check-compose:
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; } || \
		{ echo "install docker-compose: sudo apt-get install -y docker-compose" >&2; exit 1; }
	docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"

clean:
	rm -rf .build .build-fuzz .build-asan
