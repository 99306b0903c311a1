#!/usr/bin/env bash
# Brings StreamGuard up: on Docker when an engine runs, else the local stack of real parts.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'USAGE'
Usage: ./start.sh [--rate N] [--fraud-share F] [--partitions N] [--no-producer] [--reset]
                  [--state-dir DIR] [--help]

Starts the whole pipeline. With a running Docker engine: `docker compose up` and a wait for every
service's health. Without one: the local stack of real parts on 127.0.0.1 (an Apache Kafka broker
in KRaft mode from Maven Central jars, an embedded PostgreSQL, the ksqlDB emulator), then the
database schema, the rules of ksql/, and the consumer and producer in the background, their
logs and pids under the state dir. Running it twice starts nothing twice; ./stop.sh stops it.

  --rate N          transactions per second from the producer (default 20)
  --fraud-share F   the share of the producer's transactions that are fraud, 0-1 (default 0.05)
  --partitions N    partitions of the transactions and fraud_alerts topics (default:
                    $STREAMGUARD_PARTITIONS, else 1); the rules scale out with them, and
                    consumers in one group share them. Topics keep the count they were made
                    with: to change it on an existing pipeline, add --reset
  --no-producer     start everything but the producer
  --reset           stop everything and delete its data first
  --state-dir DIR   where data, logs, pids and ports live (default: .streamguard)
USAGE
}

rate=20
fraud_share=0.05
partitions=${STREAMGUARD_PARTITIONS:-1}
producer=--producer
reset=0
value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then echo "start.sh: $1 needs a value" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
    case "$1" in
        --rate|--fraud-share|--partitions|--state-dir) value "$@" ;;
    esac
    case "$1" in
        --rate) rate="$2"; shift 2 ;;
        --fraud-share) fraud_share="$2"; shift 2 ;;
        --partitions) partitions="$2"; shift 2 ;;
        --no-producer) producer=--no-producer; shift ;;
        --reset) reset=1; shift ;;
        --state-dir) export STREAMGUARD_STATE_DIR="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "start.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$partitions" in
    ''|*[!0-9]*|0*) echo "start.sh: --partitions needs a whole number above 0, got '$partitions'" >&2
                    exit 2 ;;
esac

scripts/install
if docker info >/dev/null 2>&1; then
    if [ "$reset" = 1 ]; then docker compose down -v; fi
    export STREAMGUARD_RATE="$rate" STREAMGUARD_FRAUD_SHARE="$fraud_share"
    export STREAMGUARD_PARTITIONS="$partitions"
    scale=()
    if [ "$producer" = --no-producer ]; then scale=(--scale producer=0); fi
    docker compose up -d --wait "${scale[@]}"
    cat <<'WHERE'
StreamGuard runs on Docker:
  Kafka           localhost:9092
  ksqlDB REST     http://localhost:8088  (shell: docker compose exec ksqldb-cli ksql http://ksqldb-server:8088)
  PostgreSQL      postgresql://streamguard:streamguard@localhost:5432/streamguard
  Kafka-UI        http://localhost:8080
Watch alerts:     docker compose exec consumer streamguard alerts --follow
WHERE
    exit 0
fi

sg=.venv/bin/streamguard
if [ "$reset" = 1 ]; then "$sg" stack down --purge; fi
echo "No Docker engine: starting the local stack of real parts."
"$sg" stack up
"$sg" db upgrade
"$sg" migrate initialize-metadata
"$sg" migrate apply --all \
    --define "transactions_partitions=$partitions" --define "fraud_alerts_partitions=$partitions"
"$sg" stack apps --rate "$rate" --fraud-share "$fraud_share" "$producer"
state_dir=${STREAMGUARD_STATE_DIR:-.streamguard}
stop=./stop.sh
if [ -n "${STREAMGUARD_STATE_DIR:-}" ]; then
    sg="$sg --state-dir $STREAMGUARD_STATE_DIR"
    stop="$stop --state-dir $STREAMGUARD_STATE_DIR"
fi
cat <<WHERE

StreamGuard runs on the local stack (addresses above; state, logs and pids in $state_dir/).
Watch alerts:    $sg alerts --follow
The pipeline:    $sg status
Stop it:         $stop   (--purge deletes the data too)
WHERE
