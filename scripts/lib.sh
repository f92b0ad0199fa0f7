# Shared by scripts/run-local.sh and scripts/test-all.sh (sourced, not run).

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

# Installs a Debian package when its command is missing (root only; otherwise says what to install).
apt_need() {
  local cmd=$1 package=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then log "error: '$cmd' is missing; install the Debian package '$package'."; exit 1; fi
  log "installing $package (Debian) for '$cmd'"
  if [ -z "${apt_updated:-}" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}

# Node dependencies from package-lock.json, reinstalled when the lock file changes. `npm install`
# rather than `npm ci`: the npm registry reachable here lacks chdb's optional packages for other
# platforms (@chdb/lib-darwin-*, -linux-arm64-*), which npm ci counts as a lock file out of sync.
ensure_node_modules() {
  local stamp=$repo/node_modules/.agentwatch-lock.sha256 sum
  sum=$(sha256sum "$repo/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    log "installing node dependencies (npm install from package-lock.json)"
    (cd "$repo" && npm install --no-audit --no-fund --loglevel=error)
    sha256sum "$repo/package-lock.json" | cut -d' ' -f1 > "$stamp"
  fi
}

ensure_stack_tools() {
  apt_need java openjdk-17-jre-headless
  apt_need mvn maven
  apt_need unzip unzip
  apt_need curl curl
  apt_need openssl openssl
}

# Starts the local stack; if it was not running before, stops it again when the calling script exits
# (set KEEP_STACK=1 to leave it running for the next run).
stack_up_for_this_run() {
  if "$repo/scripts/stack.sh" status >/dev/null 2>&1; then
    log "using the local stack that is already running"
    return
  fi
  if [ "${KEEP_STACK:-0}" != 1 ]; then
    trap '"$repo/scripts/stack.sh" down' EXIT
  fi
  "$repo/scripts/stack.sh" up
}

build() {
  log "building (tsc)"
  (cd "$repo" && npx tsc -p .)
}
