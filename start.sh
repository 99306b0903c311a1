#!/usr/bin/env bash
# Brings StreamGuard's stack up: on Docker when an engine runs, else the local stack of real parts.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'USAGE'
Usage: ./start.sh [--state-dir DIR] [--help]

Starts StreamGuard. Without a running Docker engine it starts the local stack of real parts on
127.0.0.1: an Apache Kafka broker (KRaft, jars from Maven Central, cached after the first run),
an embedded PostgreSQL (schema migrated) and the ksqlDB emulator. Running it twice starts nothing
twice. ./stop.sh stops it.

  --state-dir DIR   where data, logs, pids and ports live (default: .streamguard)
USAGE
}

state_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --state-dir) state_args=(--state-dir "$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "start.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

scripts/install
if docker info >/dev/null 2>&1 && [ -f docker-compose.yaml ]; then
    docker compose up -d --wait
    exit 0
fi
echo "No Docker engine: starting the local stack of real parts."
if [ ${#state_args[@]} -gt 0 ]; then export STREAMGUARD_STATE_DIR="${state_args[1]}"; fi
.venv/bin/streamguard stack up
.venv/bin/streamguard db upgrade
cat <<'NEXT'

The local stack is up: Kafka, PostgreSQL (schema migrated) and the ksqlDB emulator's REST API,
at the addresses above. Next steps, while the emulator grows into the rules' needs:
  .venv/bin/streamguard migrate apply --all     # the rules in ksql/
  .venv/bin/streamguard consume &               # alerts into PostgreSQL
  .venv/bin/streamguard produce --rate 50       # transactions
  .venv/bin/streamguard status                  # each part, the consumer's lag, alerts per rule
Stop everything with ./stop.sh (add --purge to delete the data too).
NEXT
