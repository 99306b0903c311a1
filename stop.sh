#!/usr/bin/env bash
# Stops what start.sh started (by recorded pids, or compose down); keeps data unless --purge.
set -euo pipefail
cd "$(dirname "$0")"

purge=()
while [ $# -gt 0 ]; do
    case "$1" in
        --purge) purge=(--purge); shift ;;
        --state-dir)
            if [ $# -lt 2 ] || [ -z "$2" ]; then echo "stop.sh: --state-dir needs a value" >&2; exit 2; fi
            export STREAMGUARD_STATE_DIR="$2"; shift 2 ;;
        -h|--help) echo "Usage: ./stop.sh [--purge] [--state-dir DIR]"; exit 0 ;;
        *) echo "stop.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if docker info >/dev/null 2>&1; then
    # Whichever profile runs: `down` only sees the services of the profiles it is given.
    all=(--profile single --profile cluster)
    if [ ${#purge[@]} -gt 0 ]; then docker compose "${all[@]}" down -v; else docker compose "${all[@]}" down; fi
    exit 0
fi
if [ ! -x .venv/bin/streamguard ]; then
    echo "nothing to stop: StreamGuard was never installed here"
    exit 0
fi
.venv/bin/streamguard stack down "${purge[@]}"
if [ ${#purge[@]} -gt 0 ]; then
    # The migrations' copy that start.sh wrote beside the stack's data.
    rm -f "${STREAMGUARD_STATE_DIR:-.streamguard}/ksql-migrations.properties"
fi
