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

.PHONY: all build run test database stop-db db-url packages clean

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

clean:
	rm -rf .build
