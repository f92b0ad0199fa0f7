#!/usr/bin/env bash
# The demo: installs what it needs, starts the local stack (Kafka, schema registry; ClickHouse is
# embedded), builds, and runs `agentwatch demo`: a simulated A2A fleet with two injected faults,
# alerts as they fire, a compliance query, and the API. Ctrl-C stops everything this script started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_stack_tools
ensure_node_modules
build
stack_up_for_this_run
cd "$repo"
set -a; source .stack/env; set +a
node dist/src/cli/main.js demo "$@"
