#!/usr/bin/env bash
# Runs agentwatch against the local stack: installs what it needs, starts Kafka and the schema
# registry, builds, and runs `agentwatch run` in the foreground. Ctrl-C stops it, and the stack too
# if this script started it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_stack_tools
ensure_node_modules
build
stack_up_for_this_run
cd "$repo"
set -a; source .stack/env; set +a
export CLICKHOUSE_DATA_DIR=${CLICKHOUSE_DATA_DIR:-$repo/.stack/clickhouse}
log "starting agentwatch (Ctrl-C to stop)"
node dist/src/cli/main.js run "$@"
