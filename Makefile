# The two commands of the README, and their helpers.
#
#   make run    the service's database, migrated (a private PostgreSQL under .data/ unless
#               DATABASE_URL is set); the HTTP API joins it in the next milestone
#   make test   the same database, then the whole test suite
#
# Without DATABASE_URL, scripts/local-postgres.sh installs PostgreSQL if missing (as root,
# with apt-get), creates a socket-only cluster under .data/ and starts it.

SHELL := /bin/bash
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
LOCAL_PG := scripts/local-postgres.sh
# Recipes expand this when they run, i.e. after `database` has started the private cluster.
DB_URL = $(if $(DATABASE_URL),$(DATABASE_URL),$(shell bash $(LOCAL_PG) url))

.PHONY: all build run test database stop-db db-url packages clean fuzz bench-http

all: build

packages:
	@bash $(LOCAL_PG) ensure-packages

database: packages
	@if [ -z "$$DATABASE_URL" ]; then bash $(LOCAL_PG) start; fi

build: packages
	$(SWIFT) build

run: database build
	DATABASE_URL='$(DB_URL)' .build/debug/crm migrate

test: database
	$(SWIFT) build --build-tests
	DATABASE_URL='$(DB_URL)' $(SWIFT) test --skip-build --disable-swift-testing

stop-db:
	@bash $(LOCAL_PG) stop

db-url:
	@echo '$(DB_URL)'

# libFuzzer on the HTTP request parser, in its own scratch path (sanitizers rebuild every
# module). FUZZ_SECONDS bounds the run; new inputs land in .build-fuzz/corpus/http-parser.
FUZZ_SECONDS ?= 60
fuzz:
	$(SWIFT) build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
		-Xswiftc -parse-as-library -Xswiftc -DFUZZING --product http-parser-fuzzer
	mkdir -p .build-fuzz/corpus/http-parser
	.build-fuzz/release/http-parser-fuzzer .build-fuzz/corpus/http-parser Sources/HTTPParserFuzzer/corpus \
		-max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1

# The HTTP layer against nginx serving the same bytes (wrk, 64 connections); prints the ratio.
bench-http:
	bash bench/http.sh

clean:
	rm -rf .build .build-fuzz
