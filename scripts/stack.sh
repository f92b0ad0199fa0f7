#!/usr/bin/env bash
# The local stack agentwatch runs and is tested against: a real Apache Kafka broker (KRaft, one node
# that is broker and controller) and a real Confluent-API-compatible schema registry (Apicurio
# Registry), both resolved from Maven Central and run with Java 17 on 127.0.0.1. ClickHouse is
# embedded (chdb) unless CLICKHOUSE_URL is set.
#
#   scripts/stack.sh up       start what is not running, wait until each service answers
#   scripts/stack.sh down     stop the processes this script started (pid files only)
#   scripts/stack.sh status   say what runs (and which Kafka version) and whether it answers
#   scripts/stack.sh env      print the environment agentwatch needs to reach the stack
#
# Kafka 4.4.0 runs by default; STACK_KAFKA_VERSION picks another release of the 4.x or 3.x line
# (3.5 or newer; 4.4.0 and 3.9.2 are tested), e.g. the 3.9 line, the last before Kafka 4.0 removed
# old protocol versions (KIP-896):
#
#   STACK_KAFKA_VERSION=3.9.2 scripts/stack.sh up
#
# To switch a running stack: 'down', then 'up' with the other version. The broker's data is test data
# only and is formatted anew whenever the version changes (a directory formatted by one version is
# not reused by another).
#
# State (data, logs, pid files) lives in $AGENTWATCH_STACK_DIR (default: <repo>/.stack); downloads
# are cached in ~/.m2 (Maven) and $AGENTWATCH_CACHE_DIR (default: ~/.cache/agentwatch).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack_dir=${AGENTWATCH_STACK_DIR:-$repo/.stack}
cache_dir=${AGENTWATCH_CACHE_DIR:-$HOME/.cache/agentwatch}
kafka_port=${STACK_KAFKA_PORT:-9092}
controller_port=${STACK_KAFKA_CONTROLLER_PORT:-9093}
sasl_port=${STACK_KAFKA_SASL_PORT:-9094}
tls_port=${STACK_KAFKA_TLS_PORT:-9096}
# Credentials of the SASL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): local test secrets only.
sasl_user=agentwatch
sasl_password=agentwatch-secret
# The Kafka release to run (Maven Central's org.apache.kafka:kafka_2.13); its major version picks the
# logging binding and configuration (log4j2 for 4.x, log4j 1 via reload4j for 3.x).
kafka_default_version=4.4.0
kafka_version=${STACK_KAFKA_VERSION:-$kafka_default_version}
# Bumped when the broker's storage must be formatted anew (e.g. SCRAM credentials added at format time).
# The layout marker also holds the Kafka version, so a change of version formats the storage anew.
kafka_layout=2
registry_port=${STACK_REGISTRY_PORT:-8081}
kafka_heap=${STACK_KAFKA_HEAP:-512m}
registry_heap=${STACK_REGISTRY_HEAP:-256m}
start_timeout=${STACK_START_TIMEOUT:-120}

registry_version=3.0.9
registry_artifact=io.apicurio:apicurio-registry-app:$registry_version:zip:all
registry_jar=apicurio-registry-app-$registry_version-runner.jar
registry_path=/apis/ccompat/v7

logs=$stack_dir/logs
pids=$stack_dir/pids

say() { printf '[stack] %s\n' "$*" >&2; }
fail() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

need() {
  local cmd=$1 hint=$2
  command -v "$cmd" >/dev/null 2>&1 || fail "'$cmd' is not installed. $hint"
}

check_tools() {
  need java "Install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)."
  need mvn "Install Maven (Debian: apt-get install maven); it fetches Kafka and the registry from Maven Central."
  need curl "Install curl (Debian: apt-get install curl)."
  need openssl "Install openssl (Debian: apt-get install openssl); it makes the test certificates of the TLS listener."
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null \
    || fail "Java $major found; the stack (Kafka $kafka_version, Apicurio Registry $registry_version) needs Java 17 or newer."
}

# Checks STACK_KAFKA_VERSION and sets what differs between Kafka's major versions: the logging
# binding (a profile of scripts/stack/kafka-pom.xml) and the JVM option naming its configuration.
kafka_logging=
kafka_log_opt=
check_kafka_version() {
  [[ $kafka_version =~ ^([0-9]+)\.([0-9]+)\.[0-9]+$ ]] \
    || fail "STACK_KAFKA_VERSION=$kafka_version is not a Kafka release number such as $kafka_default_version or 3.9.2."
  local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  if [ "$major" = 4 ]; then
    kafka_logging=log4j2
    kafka_log_opt=-Dlog4j2.configurationFile=$repo/scripts/stack/kafka-log4j2.properties
  elif [ "$major" = 3 ] && [ "$minor" -ge 5 ]; then
    # 3.5 is the first release whose storage tool adds SCRAM credentials at format time (--add-scram).
    kafka_logging=log4j1
    kafka_log_opt=-Dlog4j.configuration=file:$repo/scripts/stack/kafka-log4j.properties
  else
    fail "STACK_KAFKA_VERSION=$kafka_version is not supported: the stack runs Kafka 4.x (default $kafka_default_version) or 3.5 and newer (3.9.2 tested)."
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file names a live process of ours only if its command line still mentions our stack dir
# (guards against a recycled pid after a reboot); we never look processes up by name.
live_pid() {
  local file=$pids/$1.pid pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$stack_dir" || return 1
  echo "$pid"
}

ensure_port_free() {
  local port=$1 what=$2
  if port_open "$port"; then
    local holder
    holder=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*' | head -1 | sed 's/users:((//')
    fail "port $port ($what) is already in use${holder:+ by $holder}. Stop that process, or pick another port (see 'scripts/stack.sh --help')."
  fi
}

# Starts "$@" detached in its own session, logging to $logs/$name.log, and records its pid.
spawn() {
  local name=$1; shift
  : > "$logs/$name.log"
  setsid "$@" >> "$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pids/$name.pid"
}

# Polls "$probe" until it succeeds; on time-out, or if the process died, shows the log and fails.
wait_until() {
  local name=$1 probe=$2 deadline=$((SECONDS + start_timeout))
  while ! eval "$probe" >/dev/null 2>&1; do
    if ! live_pid "$name" >/dev/null; then
      tail -n 30 "$logs/$name.log" >&2 || true
      fail "$name exited during start-up; its log is $logs/$name.log (last lines above)."
    fi
    [ $SECONDS -lt "$deadline" ] || { tail -n 30 "$logs/$name.log" >&2; fail "$name did not answer within ${start_timeout}s; see $logs/$name.log."; }
    sleep 0.5
  done
}

# ------------------------------------------------------------------------------ TLS test material
# A throw-away CA, a broker certificate for 127.0.0.1 and a client certificate, in $stack_dir/tls.
tls_material() {
  local dir=$stack_dir/tls
  [ -s "$dir/broker.pem" ] && [ -s "$dir/client.key" ] && return
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=agentwatch test CA" -keyout ca.key -out ca.pem
    for name in broker client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=agentwatch-$name" -keyout "$name.key" -out "$name.csr"
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile "$name.ext" -out "$name.crt"
    done
    # Kafka reads a PEM keystore holding an unencrypted PKCS#8 key followed by the certificate chain.
    openssl pkcs8 -topk8 -nocrypt -in broker.key -out broker.p8
    cat broker.p8 broker.crt ca.pem > broker.pem
  ) > "$logs/tls.log" 2>&1 || { cat "$logs/tls.log" >&2; fail "openssl could not make the TLS test certificates; see $logs/tls.log."; }
}

# ---------------------------------------------------------------------------------------- Kafka
# The broker's classpath for $kafka_version, resolved once per version (and again when the pom
# changes or a jar of it has gone from ~/.m2).
kafka_classpath() {
  local cp_file=$stack_dir/kafka/classpath-$kafka_version.txt pom=$repo/scripts/stack/kafka-pom.xml jar missing=
  if [ -s "$cp_file" ]; then
    while IFS= read -r jar; do
      [ -f "$jar" ] || { missing=1; break; }
    done < <(tr ':' '\n' < "$cp_file")
  fi
  if [ ! -s "$cp_file" ] || [ "$pom" -nt "$cp_file" ] || [ -n "$missing" ]; then
    say "resolving Kafka $kafka_version from Maven Central (cached in ~/.m2 after the first run)"
    mkdir -p "$stack_dir/kafka"
    mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.includeScope=runtime \
      "-Dkafka.version=$kafka_version" "-Dkafka.logging=$kafka_logging" \
      -Dmdep.outputFile="$cp_file.tmp" > "$logs/maven-kafka.log" 2>&1 \
      || { tail -n 20 "$logs/maven-kafka.log" >&2; fail "Maven could not resolve Kafka $kafka_version (is Maven Central reachable, and is $kafka_version a release of org.apache.kafka:kafka_2.13?); see $logs/maven-kafka.log."; }
    mv "$cp_file.tmp" "$cp_file"
  fi
  cat "$cp_file"
}

# The Kafka version a running broker of ours was started with, read from the kafka_2.13 jar on its
# command line (empty if it cannot be told).
kafka_running_version() {
  tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | tr ':' '\n' \
    | sed -n 's|.*/kafka_2\.13-\([0-9][0-9A-Za-z.-]*\)\.jar$|\1|p' | head -1
}

kafka_up() {
  local pid running
  if pid=$(live_pid kafka); then
    running=$(kafka_running_version "$pid")
    if [ -n "$running" ] && [ "$running" != "$kafka_version" ]; then
      [ -z "${STACK_KAFKA_VERSION:-}" ] \
        || fail "kafka $running is running (pid $pid), not the $kafka_version STACK_KAFKA_VERSION asks for: run 'scripts/stack.sh down' first, then 'up' again to switch (the broker's data is formatted anew)."
      say "note: kafka $running is running, not the default $kafka_version; 'scripts/stack.sh down' and 'up' switch to it (the broker's data is formatted anew)."
    fi
    say "kafka${running:+ $running} already running (pid $pid) on 127.0.0.1:$kafka_port"
    return
  fi
  ensure_port_free "$kafka_port" "Kafka broker"
  ensure_port_free "$controller_port" "Kafka controller"
  ensure_port_free "$sasl_port" "Kafka SASL listener"
  ensure_port_free "$tls_port" "Kafka TLS listener"
  tls_material
  # Storage formatted by another layout or another Kafka version is not reused: an older broker cannot
  # read what a newer version formatted, and a newer one would run at the older metadata version.
  local layout="$kafka_layout kafka-$kafka_version" was
  was=$(cat "$stack_dir/kafka/layout" 2>/dev/null || true)
  if [ "$was" != "$layout" ]; then
    if [ -d "$stack_dir/kafka/data" ]; then
      case $was in
        "$kafka_layout kafka-"*) was="Kafka ${was#"$kafka_layout kafka-"}" ;;
        *) was="an older layout of this script" ;;
      esac
      say "formatting the broker's storage anew for Kafka $kafka_version (it held data of $was)"
    fi
    rm -rf "$stack_dir/kafka/data"
    rm -f "$stack_dir/kafka/layout"
  fi
  mkdir -p "$stack_dir/kafka/data"
  local cp props=$stack_dir/kafka/server.properties
  cp=$(kafka_classpath)
  # The same keys serve 3.5+ and 4.x: KRaft only (no ZooKeeper settings, which 4.0 removed), a static
  # controller quorum (controller.quorum.voters, which 4.x still accepts), no removed configs.
  cat > "$props" <<EOF
# Written by scripts/stack.sh for Kafka $kafka_version: one KRaft node that is both broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$tls_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$tls_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$stack_dir/tls/broker.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$stack_dir/tls/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
inter.broker.listener.name=PLAINTEXT
log.dirs=$stack_dir/kafka/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# Keep every record: the tests produce backlogs stamped months in the past (replayed history), and
# time-based retention would delete them at its next check (every 5 minutes), between the produce and
# the read, which made the suite fail at random.
log.retention.ms=-1
# Accept records stamped any time in the future, as 3.x does by default: 4.0 lowered this to one hour
# (KIP-1030), and the tests produce hostile timestamps (e.g. year 2100) that agentwatch must survive.
log.message.timestamp.after.max.ms=9223372036854775807
EOF
  if [ ! -f "$stack_dir/kafka/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" "$kafka_log_opt" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || fail "Kafka $kafka_version's storage tool gave no cluster id (got '$cluster_id')."
    # SCRAM credentials of the SASL listener are written into the metadata log at format time.
    java -cp "$cp" "$kafka_log_opt" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" \
      --add-scram "SCRAM-SHA-256=[name=$sasl_user,password=$sasl_password]" \
      --add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$sasl_password]" > "$logs/kafka-format.log" 2>&1 \
      || { cat "$logs/kafka-format.log" >&2; fail "formatting Kafka $kafka_version's storage failed; see $logs/kafka-format.log."; }
    echo "$layout" > "$stack_dir/kafka/layout"
  fi
  say "starting kafka $kafka_version on 127.0.0.1:$kafka_port (heap $kafka_heap)"
  spawn kafka java "-Xms128m" "-Xmx$kafka_heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "$kafka_log_opt" "-Dkafka.logs.dir=$logs" \
    -cp "$cp" kafka.Kafka "$props"
  wait_until kafka "port_open $kafka_port && java -cp '$cp' '$kafka_log_opt' org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-server 127.0.0.1:$kafka_port"
  say "kafka $kafka_version answers metadata requests on 127.0.0.1:$kafka_port"
}

# ------------------------------------------------------------------------------- Schema registry
registry_home() {
  local home=$cache_dir/apicurio-registry-$registry_version
  if [ ! -f "$home/$registry_jar" ]; then
    say "fetching Apicurio Registry $registry_version from Maven Central (cached after the first run)"
    mvn -q -B dependency:get -Dartifact="$registry_artifact" -Dtransitive=false > "$logs/maven-registry.log" 2>&1 \
      || { tail -n 20 "$logs/maven-registry.log" >&2; fail "Maven could not fetch $registry_artifact (is Maven Central reachable?); see $logs/maven-registry.log."; }
    local zip=$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$registry_version/apicurio-registry-app-$registry_version-all.zip
    need unzip "Install unzip (Debian: apt-get install unzip)."
    rm -rf "$home.tmp" && mkdir -p "$home.tmp"
    unzip -q "$zip" -d "$home.tmp" || fail "could not unpack $zip"
    rm -rf "$home" && mv "$home.tmp" "$home"
  fi
  echo "$home"
}

registry_up() {
  if live_pid registry >/dev/null; then say "schema registry already running (pid $(live_pid registry)) on 127.0.0.1:$registry_port"; return; fi
  ensure_port_free "$registry_port" "schema registry"
  local home
  home=$(registry_home)
  say "starting the schema registry (Apicurio $registry_version, in-memory storage) on 127.0.0.1:$registry_port"
  # -Dagentwatch.stack.dir only tags the command line so that live_pid recognises the process as ours.
  spawn registry java "-Xmx$registry_heap" -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dagentwatch.stack.dir=$stack_dir" -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$registry_port" \
    -Dquarkus.log.console.format="%d{HH:mm:ss} %-5p [%c{1.}] %s%e%n" \
    -jar "$home/$registry_jar"
  wait_until registry "curl -sf http://127.0.0.1:$registry_port$registry_path/subjects"
  say "schema registry answers GET $registry_path/subjects on 127.0.0.1:$registry_port"
}

# ------------------------------------------------------------------------------------ ClickHouse
clickhouse_check() {
  if [ -n "${CLICKHOUSE_URL:-}" ]; then
    local auth=()
    [ -n "${CLICKHOUSE_USER:-}" ] && auth=(-u "${CLICKHOUSE_USER}:${CLICKHOUSE_PASSWORD:-}")
    local one
    one=$(curl -sf "${auth[@]}" --data-binary 'SELECT 1' "$CLICKHOUSE_URL/" 2>/dev/null) \
      || fail "the ClickHouse server at CLICKHOUSE_URL=$CLICKHOUSE_URL does not answer SELECT 1; check the URL, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD."
    [ "$one" = "1" ] || fail "the ClickHouse server at $CLICKHOUSE_URL answered '$one' to SELECT 1."
    say "clickhouse server at $CLICKHOUSE_URL answers SELECT 1"
  elif [ -d "$repo/node_modules/chdb" ]; then
    (cd "$repo" && node --input-type=module -e "
      import { createChdbConnection } from 'chdb/connection';
      const c = createChdbConnection({ path: ':memory:' });
      const r = await c.query({ query: 'SELECT 1', format: 'TabSeparated' });
      let out = ''; for await (const chunk of r.stream) out += Buffer.from(chunk).toString();
      await c.close();
      if (out.trim() !== '1') { console.error('SELECT 1 returned ' + out); process.exit(1); }
    ") || fail "the embedded ClickHouse engine (chdb) does not answer SELECT 1; reinstall it with 'npm ci'."
    say "embedded clickhouse (chdb) answers SELECT 1"
  else
    say "embedded clickhouse (chdb) not installed yet: run 'npm ci' (the README's commands do)"
  fi
}

# -------------------------------------------------------------------------------------- commands
stop() {
  local name=$1 pid
  if ! pid=$(live_pid "$name"); then rm -f "$pids/$name.pid"; say "$name not running"; return; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pids/$name.pid"
  say "$name stopped"
}

print_env() {
  echo "KAFKA_BROKERS=127.0.0.1:$kafka_port"
  echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$registry_port$registry_path"
  # For tests of secured connections (not read by agentwatch itself):
  echo "STACK_KAFKA_SASL_BROKERS=127.0.0.1:$sasl_port"
  echo "STACK_KAFKA_SASL_USERNAME=$sasl_user"
  echo "STACK_KAFKA_SASL_PASSWORD=$sasl_password"
  echo "STACK_KAFKA_TLS_BROKERS=127.0.0.1:$tls_port"
  echo "STACK_TLS_DIR=$stack_dir/tls"
}

status() {
  local rc=0 pid running
  if pid=$(live_pid kafka); then
    running=$(kafka_running_version "$pid")
    running="kafka ${running:-(version unknown)}"
    if port_open "$kafka_port"; then say "$running: running (pid $pid), 127.0.0.1:$kafka_port"; else say "$running: running (pid $pid) but not listening on $kafka_port"; rc=1; fi
  else say "kafka: stopped ('up' starts Kafka $kafka_version)"; rc=1; fi
  if pid=$(live_pid registry); then
    if curl -sf "http://127.0.0.1:$registry_port$registry_path/subjects" >/dev/null; then say "schema registry: running (pid $pid), http://127.0.0.1:$registry_port$registry_path"; else say "schema registry: running (pid $pid) but not answering"; rc=1; fi
  else say "schema registry: stopped"; rc=1; fi
  return $rc
}

usage() {
  # The header comment of this file, up to its first line that is not a comment.
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
  cat <<EOF

Environment (defaults in brackets):
  STACK_KAFKA_VERSION          Kafka release to run: 4.x, or 3.x from 3.5 (e.g. 3.9.2) [$kafka_default_version]
  AGENTWATCH_STACK_DIR         state: data, logs, pid files [$repo/.stack]
  AGENTWATCH_CACHE_DIR         unpacked downloads [~/.cache/agentwatch]
  STACK_KAFKA_PORT             broker port [9092]
  STACK_KAFKA_CONTROLLER_PORT  KRaft controller port [9093]
  STACK_KAFKA_SASL_PORT        SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256/512) [9094]
  STACK_KAFKA_TLS_PORT         SSL listener, client certificates required [9096]
  STACK_REGISTRY_PORT          schema registry port [8081]
  STACK_KAFKA_HEAP             broker max heap [512m]
  STACK_REGISTRY_HEAP          registry max heap [256m]
  STACK_START_TIMEOUT          seconds to wait for each service [120]
  CLICKHOUSE_URL               check this ClickHouse server instead of the embedded engine
EOF
}

cmd=${1:-}
case "$cmd" in
  up)
    check_tools
    check_kafka_version
    mkdir -p "$logs" "$pids"
    kafka_up
    registry_up
    clickhouse_check
    print_env > "$stack_dir/env"
    say "ready; environment for agentwatch in $stack_dir/env:"
    sed 's/^/  /' "$stack_dir/env"
    ;;
  down)
    mkdir -p "$pids"
    stop registry
    stop kafka
    ;;
  status) status ;;
  env) print_env ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
