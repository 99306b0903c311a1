#!/usr/bin/env bash
# Brings StreamGuard up: on Docker when an engine runs, else the local stack of real parts.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    cat <<'USAGE'
Usage: ./start.sh [--rate N] [--fraud-share F] [--partitions N] [--no-producer]
                  [--console-port P] [--reset] [--state-dir DIR] [--cluster] [--help]

Starts the whole pipeline. With a running Docker engine: `docker compose up` and a wait for every
service's health (secrets from .env: one with a generated password is written when
missing). Without one: the local stack of real parts on 127.0.0.1 (an Apache Kafka broker
in KRaft mode from Maven Central jars, an embedded PostgreSQL, the ksqlDB emulator), then the
database schema, the rules of ksql/, and the consumer, the web console and the producer in the
background, their logs and pids under the state dir. Running it twice starts nothing twice; ./stop.sh stops it.

  --rate N          transactions per second from the producer (default 20)
  --fraud-share F   the share of the producer's transactions that are fraud, 0-1 (default 0.05)
  --partitions N    partitions of the transactions and fraud_alerts topics (default:
                    $STREAMGUARD_PARTITIONS, else 1); the rules scale out with them, and
                    consumers in one group share them. Topics keep the count they were made
                    with: to change it on an existing pipeline, add --reset
  --no-producer     start everything but the producer
  --console-port P  the web console's preferred port (default 8090; a taken one is replaced)
  --reset           stop everything and delete its data first
  --state-dir DIR   where data, logs, pids and ports live (default: .streamguard)
  --cluster         on Docker, the cluster profile: three Kafka brokers, two ksqlDB servers,
                    two consumers (README: "Running beyond one machine")
USAGE
}

rate=20
fraud_share=0.05
partitions=${STREAMGUARD_PARTITIONS:-1}
producer=--producer
console_port=8090
reset=0
profile=single
value() {
    if [ $# -lt 2 ] || [ -z "$2" ]; then echo "start.sh: $1 needs a value" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
    case "$1" in
        --rate|--fraud-share|--partitions|--state-dir|--console-port) value "$@" ;;
    esac
    case "$1" in
        --rate) rate="$2"; shift 2 ;;
        --fraud-share) fraud_share="$2"; shift 2 ;;
        --partitions) partitions="$2"; shift 2 ;;
        --no-producer) producer=--no-producer; shift ;;
        --console-port) console_port="$2"; shift 2 ;;
        --reset) reset=1; shift ;;
        --cluster) profile=cluster; shift ;;
        --state-dir) export STREAMGUARD_STATE_DIR="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "start.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$partitions" in
    ''|*[!0-9]*|0*) echo "start.sh: --partitions needs a whole number above 0, got '$partitions'" >&2
                    exit 2 ;;
esac
# The other values are checked here too, before anything starts: the command that takes them
# runs last, and a stack left half started by a typo is worse than a refusal.
number() {  # a decimal number, as the producer takes it
    [[ "$2" =~ ^[0-9]+([.][0-9]+)?$|^[.][0-9]+$ ]] ||
        { echo "start.sh: $1 needs a number, got '$2'" >&2; exit 2; }
}
number --rate "$rate"
number --fraud-share "$fraud_share"
if ! awk -v f="$fraud_share" 'BEGIN { exit !(f <= 1) }'; then
    echo "start.sh: --fraud-share is a share between 0 and 1, got '$fraud_share'" >&2; exit 2
fi
if ! [[ "$console_port" =~ ^[0-9]+$ ]] || [ "$console_port" -gt 65535 ]; then
    echo "start.sh: --console-port needs a port number (0-65535), got '$console_port'" >&2; exit 2
fi

scripts/install
if docker info >/dev/null 2>&1; then
    if [ ! -f .env ] && [ -z "${POSTGRES_PASSWORD:-}" ]; then
        # A password of this machine's own, never one from the repository.
        password=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')
        (umask 077; sed "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$password/" .env.example > .env)
        echo "wrote .env with a generated PostgreSQL password"
    fi
    if [ "$reset" = 1 ]; then docker compose --profile single --profile cluster down -v; fi
    export STREAMGUARD_RATE="$rate" STREAMGUARD_FRAUD_SHARE="$fraud_share"
    if [ "$profile" = cluster ]; then consumer=consumer-cluster; producer_service=producer-cluster
    else consumer=consumer; producer_service=producer; fi
    export STREAMGUARD_PARTITIONS="$partitions"
    scale=()
    if [ "$producer" = --no-producer ]; then scale=(--scale "$producer_service=0"); fi
    docker compose --profile "$profile" up -d --wait "${scale[@]}"
    cat <<WHERE
StreamGuard runs on Docker ($profile profile), on 127.0.0.1 only:
  Kafka           localhost:9092
  ksqlDB REST     http://localhost:8088
  PostgreSQL      postgresql://streamguard:\$POSTGRES_PASSWORD@localhost:5432/streamguard  (password in .env)
  Kafka-UI        http://localhost:8080
  Console         http://localhost:8090
  Prometheus      http://localhost:9090
  Grafana         http://localhost:3000  (dashboard: StreamGuard)
Watch alerts:     docker compose exec $consumer streamguard alerts --follow
WHERE
    exit 0
fi
if [ "$profile" = cluster ]; then
    echo "start.sh: --cluster needs a Docker engine; the local stack runs on one machine" >&2
    exit 2
fi

sg=.venv/bin/streamguard
if [ "$reset" = 1 ]; then "$sg" stack down --purge; fi
echo "No Docker engine: starting the local stack of real parts."
"$sg" stack up
"$sg" db upgrade
state_dir=${STREAMGUARD_STATE_DIR:-.streamguard}
# The project's ksql-migrations.properties names localhost:8088; the stack's ksqlDB may have
# had to take another port, so the migrations run with a copy that names the stack's own.
migrations_config="$state_dir/ksql-migrations.properties"
.venv/bin/python -m streamguard.migrations.local_config "$migrations_config"
"$sg" migrate -c "$migrations_config" initialize-metadata
"$sg" migrate -c "$migrations_config" apply --all \
    --define "transactions_partitions=$partitions" --define "fraud_alerts_partitions=$partitions"
"$sg" stack apps --rate "$rate" --fraud-share "$fraud_share" "$producer" --console-port "$console_port"
console_url=$("$sg" stack address console)
stop=./stop.sh
if [ -n "${STREAMGUARD_STATE_DIR:-}" ]; then
    sg="$sg --state-dir $STREAMGUARD_STATE_DIR"
    stop="$stop --state-dir $STREAMGUARD_STATE_DIR"
fi
cat <<WHERE

StreamGuard runs on the local stack (addresses above; state, logs and pids in $state_dir/).
Console:         $console_url
Watch alerts:    $sg alerts --follow
The pipeline:    $sg status
Stop it:         $stop   (--purge deletes the data too)
WHERE
