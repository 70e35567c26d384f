#!/usr/bin/env bash
# Organization mode, locally: one moto server holding an organization of three member accounts
# and an outsider, the real function under `cargo lambda watch` as a central deployment
# (MEMBER_ROLE_NAME, ACCOUNTS=organization, enforce), an event from member A, one from the
# outsider, and a sweep over the organization, with the notifications read back from the
# central topic's SQS subscriber. Run by `make demo-org`. Writes only under .demo/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/.demo"
FUNCTION=node-role-remediator
START=$SECONDS
mkdir -p "$DEMO"

# shellcheck source=scripts/emulator.sh
source "$ROOT/scripts/emulator.sh"
MOTO_PGID=""
WATCH_PGID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_group "$WATCH_PGID"
  stop_group "$MOTO_PGID"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STEP=0
banner() {
  STEP=$((STEP + 1))
  printf '\n==== %d. %s ====\n' "$STEP" "$*"
}
org() { "$PY" scripts/org_seed.py --endpoint "$ENDPOINT" "$@"; }

banner "Local AWS (moto) with an organization"
start_moto "$DEMO/org-moto.log"
org seed | tee "$DEMO/org-seed.out"
IDS="$(sed -n 's/^IDS=//p' "$DEMO/org-seed.out")"
OUTSIDER="$(sed -n 's/^OUTSIDER=//p' "$DEMO/org-seed.out")"
TOPIC_ARN="$(sed -n 's/^TOPIC_ARN=//p' "$DEMO/org-seed.out")"
QUEUE_URL="$(sed -n 's/^QUEUE_URL=//p' "$DEMO/org-seed.out")"
IFS=, read -r A B C <<<"$IDS"
echo "central account 123456789012 (the function's); members A=$A B=$B C=$C; outsider $OUTSIDER"

banner "Before"
org show "$A" "$B" "$C" "$OUTSIDER"

banner "Build the function (cargo build --bin $FUNCTION)"
cargo build --quiet --bin "$FUNCTION"

banner "The function as a central deployment (cargo lambda watch, MODE=enforce)"
env_file="$DEMO/org.env"
function_env "$env_file" enforce "$TOPIC_ARN"
sed -i 's/^SCAN_REGIONS=.*/SCAN_REGIONS=us-east-1/' "$env_file"
cat >>"$env_file" <<EOV
MEMBER_ROLE_NAME=eks-node-role-guard-member
ACCOUNTS=organization
ACCOUNT_CONCURRENCY=2
EOV
port="$(free_port)"
setsid cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-file "$env_file" </dev/null >"$DEMO/org-watch.log" 2>&1 &
WATCH_PGID=$!
wait_port "$port" "$WATCH_PGID" 120 "$DEMO/org-watch.log"
grep -E "MEMBER_ROLE_NAME|ACCOUNTS" "$env_file"

invoke() {
  local name="$1" file="$2"
  timeout 600 cargo lambda invoke "$FUNCTION" --invoke-address 127.0.0.1 --invoke-port "$port" \
    --data-file "$file" </dev/null >"$DEMO/org-$name.json" 2>"$DEMO/org-$name.err" || {
    echo "error: invoke $name failed:" >&2
    cat "$DEMO/org-$name.err" >&2
    exit 1
  }
  "$PY" scripts/seed.py report "$DEMO/org-$name.json"
}

banner "AdministratorAccess attached in member A: the event"
"$PY" scripts/org_seed.py event "$A" events/attach-admin-to-node-role.json >"$DEMO/org-in-a.json"
invoke event-a "$DEMO/org-in-a.json"
echo "After the event (A remediated through its member role; B, C and the outsider untouched):"
org show "$A" "$B" "$C" "$OUTSIDER"

banner "The same event from an account outside the organization"
"$PY" scripts/org_seed.py event "$OUTSIDER" events/attach-admin-to-node-role.json >"$DEMO/org-in-outsider.json"
invoke event-outsider "$DEMO/org-in-outsider.json"

banner "The scheduled sweep over the organization"
invoke sweep events/scheduled-sweep.json
"$PY" - "$DEMO/org-sweep.json" <<'EOP'
import json, sys
report = json.load(open(sys.argv[1]))
print("per account:")
for line in report.get("accounts", []):
    if line.get("reason"):
        print(f"  {line['account']}: NOT SWEPT: {line['reason']}")
    else:
        print(f"  {line['account']}: {line['roles']} node role(s), {line['needed_action']} needed action")
print("AWS calls:", ", ".join(f"{k} {v}" for k, v in sorted(report["api_calls"].items())))
EOP

banner "After"
org show "$A" "$B" "$C" "$OUTSIDER"

banner "Notifications received by the central topic's SQS subscriber"
"$PY" scripts/seed.py --endpoint "$ENDPOINT" drain --queue-url "$QUEUE_URL" --no-text

echo
echo "demo-org finished in $((SECONDS - START))s; Reports and logs are in .demo/org-*"
