#!/usr/bin/env bash
# The whole test suite: installs what it needs, starts the real local stack (Kafka, schema registry,
# embedded ClickHouse), builds, and runs unit and integration tests with node --test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_stack_tools
apt_need docker-compose docker-compose   # validates docker-compose.yml; needs no Docker engine
apt_need prometheus prometheus         # a real Prometheus scrapes /metrics in the observability test (promtool too)
ensure_node_modules
build
stack_up_for_this_run
cd "$repo"
log "running unit and integration tests"
# A test that hangs fails after 10 minutes instead of holding CI until its limit.
node --test --test-timeout=600000 dist/test/unit/ dist/test/integration/
