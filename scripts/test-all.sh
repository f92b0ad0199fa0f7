#!/usr/bin/env bash
# The whole test suite: installs what it needs; the quality gate (typecheck, lint, format check, unit
# tests); then starts the real local stack (Kafka, schema registry, embedded ClickHouse) and runs the
# integration tests with node --test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The quality gate first, in seconds and without the stack: typecheck (the build), lint, format, unit tests.
ensure_node_modules
build
cd "$repo"
log "lint and format check"
npm run --silent lint
npm run --silent format:check
log "running unit tests"
# A test that hangs fails after 10 minutes instead of holding CI until its limit.
node --test --test-timeout=600000 dist/test/unit/

ensure_stack_tools
apt_need docker-compose docker-compose   # validates docker-compose.yml; needs no Docker engine
apt_need prometheus prometheus         # a real Prometheus scrapes /metrics in the observability test (promtool too)
apt_need prometheus-alertmanager prometheus-alertmanager   # a real Alertmanager receives alerts in the alert-delivery test
apt_need curl curl   # the docs' example calls are run as written (docs-examples test)
apt_need jq jq
stack_up_for_this_run
cd "$repo"
log "running integration tests"
node --test --test-timeout=600000 dist/test/integration/
