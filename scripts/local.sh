#!/usr/bin/env bash
# `make local`: the function (built once with the workspace) under `cargo lambda watch` on
# 127.0.0.1:9000, against a moto server seeded with the demo account, in the foreground until
# Ctrl-C (which stops everything). From another terminal:
# `cargo lambda invoke node-role-remediator --invoke-address 127.0.0.1 --data-file events/<file>.json`.
# MODE=enforce make local   runs it in enforce mode; writes only under .local/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
PY="$ROOT/.venv/bin/python"
LOCAL="$ROOT/.local"
INVOKE_PORT="${INVOKE_PORT:-9000}"
mkdir -p "$LOCAL"

# shellcheck source=scripts/emulator.sh
source "$ROOT/scripts/emulator.sh"
stop_on_exit

if (exec 3<>"/dev/tcp/127.0.0.1/$INVOKE_PORT") 2>/dev/null; then
  echo "error: port $INVOKE_PORT is in use (another cargo lambda watch?); set INVOKE_PORT" >&2
  exit 1
fi

build_workspace
start_moto "$LOCAL/moto.log"
"$PY" scripts/seed.py --endpoint "$ENDPOINT" seed --quiet --trail --eksctl-role --notify-queue eks-node-role-guard-inbox \
  | tee "$LOCAL/seed.out"
TOPIC_ARN="$(sed -n 's/^TOPIC_ARN=//p' "$LOCAL/seed.out")"
QUEUE_URL="$(sed -n 's/^QUEUE_URL=//p' "$LOCAL/seed.out")"
function_env "$LOCAL/function.env" "${MODE:-dry-run}" "$TOPIC_ARN"

cat <<MSG

moto on $ENDPOINT (seeded: .local/seed.out), MODE=${MODE:-dry-run}, configuration in .local/function.env.
Starting cargo lambda watch on 127.0.0.1:$INVOKE_PORT with the function built above (after a code
change, Ctrl-C and make local again: it rebuilds what changed).
In another terminal:
  cargo lambda invoke node-role-remediator --invoke-address 127.0.0.1 --invoke-port $INVOKE_PORT --data-file events/attach-admin-to-node-role.json
  .venv/bin/python scripts/seed.py --endpoint $ENDPOINT drain --queue-url $QUEUE_URL
Ctrl-C stops the function and the emulator.

MSG
# the function's and the runtime emulator's output on this terminal, until Ctrl-C or until one exits
start_function node-role-remediator "$LOCAL/function.env" "$INVOKE_PORT" /dev/stdout
wait "$FUNCTION_PGID"
