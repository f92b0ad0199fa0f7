#!/usr/bin/env bash
# `npm run bench`: installs what the benchmarks need (kcat from Debian, node modules), builds, starts
# the local stack if it is not running (and stops it afterwards), and runs bench/run.ts. Not part of
# CI. Arguments go to the runner: ./scripts/bench.sh [e2e] [scoring] [memory] [queries] [workers] [detection] [--messages N] [--rows N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_stack_tools
apt_need kcat kcat   # the native baseline consumer (librdkafka)
ensure_node_modules
build
# Kafka is needed by the e2e, memory and workers parts; e2e and memory run unless other parts are named.
parts=() help=0
for arg in "$@"; do
  case $arg in
    e2e|scoring|memory|queries|workers|detection) parts+=("$arg") ;;
    --help|-h) help=1 ;;
  esac
done
if [ "$help" = 0 ] && { [ ${#parts[@]} = 0 ] || [[ " ${parts[*]} " == *" e2e "* ]] || [[ " ${parts[*]} " == *" memory "* ]] || [[ " ${parts[*]} " == *" workers "* ]]; }; then
  stack_up_for_this_run
fi
cd "$repo"
node dist/bench/run.js "$@"
