#!/usr/bin/env bash
# Organization mode, locally: one moto server holding an organization of three member accounts
# and an outsider, the real function under `cargo lambda watch` as a central deployment
# (MEMBER_ROLE_NAME, ACCOUNTS=organization, enforce), an event from member A, one from the
# outsider, and a sweep over the organization, with the notifications read back from the
# central topic's SQS subscriber; then checks that the story happened (exit 1 if not).
# Run by `make demo-org`. Needs no stdin; writes only under .demo/ (org-*); leaves no process behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/.demo"
FUNCTION=node-role-remediator
START=$SECONDS
mkdir -p "$DEMO"
rm -f "$DEMO"/org-*

# shellcheck source=scripts/emulator.sh
source "$ROOT/scripts/emulator.sh"
stop_on_exit

org() { "$PY" scripts/org_seed.py --endpoint "$ENDPOINT" "$@"; }

banner "Local AWS (moto) with an organization"
start_moto "$DEMO/org-moto.log"
echo "moto_server on $ENDPOINT (log: .demo/org-moto.log)"
org seed | tee "$DEMO/org-seed.out"
IDS="$(sed -n 's/^IDS=//p' "$DEMO/org-seed.out")"
OUTSIDER="$(sed -n 's/^OUTSIDER=//p' "$DEMO/org-seed.out")"
TOPIC_ARN="$(sed -n 's/^TOPIC_ARN=//p' "$DEMO/org-seed.out")"
QUEUE_URL="$(sed -n 's/^QUEUE_URL=//p' "$DEMO/org-seed.out")"
[[ -n "$IDS" && -n "$TOPIC_ARN" && -n "$QUEUE_URL" ]] || { echo "error: org_seed.py printed no IDS/TOPIC_ARN/QUEUE_URL" >&2; exit 1; }
IFS=, read -r A B C <<<"$IDS"
echo "central account 123456789012 (the function's, the organization's management account);"
echo "members A=$A B=$B C=$C (created with organizations:CreateAccount); outsider $OUTSIDER (not in the organization)"
echo "each account has node role eks-node-app in cluster apps (us-east-1); the topic and its SQS subscriber are central"

banner "Before"
org show "$A" "$B" "$C" "$OUTSIDER" --json "$DEMO/org-before.json"

build_workspace

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
start_function "$FUNCTION" "$env_file" "$port" "$DEMO/org-watch.log"
echo "function emulator on 127.0.0.1:$port (log: .demo/org-watch.log), environment:"
grep -E "^(MODE|MEMBER_ROLE_NAME|ACCOUNTS|ACCOUNT_CONCURRENCY|SCAN_REGIONS)=" "$env_file" | sed 's/^/  /'
echo "For an event from member X the function assumes arn:aws:iam::X:role/eks-node-role-guard-member"
echo "(moto maps those credentials onto account X) and acts in X; notifications go to the central topic."

invoke() {
  local name="$1" file="$2" rc=0
  invoke_function 600 "$DEMO/org-$name.json" "$DEMO/org-$name.err" \
    "$FUNCTION" --invoke-address 127.0.0.1 --invoke-port "$port" --data-file "$file" || rc=$?
  if ((rc != 0)); then
    echo "error: invoke $name failed (exit $rc; log: .demo/org-watch.log):" >&2
    cat "$DEMO/org-$name.err" "$DEMO/org-$name.json" >&2
    exit 1
  fi
  # what the function told: its own notification texts, or the Report's outcome
  "$PY" scripts/seed.py --endpoint "$ENDPOINT" told "$DEMO/org-$name.json" --seen "$DEMO/org-told.ids"
}

banner "AdministratorAccess attached in member A: the event"
"$PY" scripts/org_seed.py event "$A" events/attach-admin-to-node-role.json >"$DEMO/org-in-a.json"
invoke event-a "$DEMO/org-in-a.json"
echo
echo "After the event (A remediated through its member role; the same-named role in B, C and the"
echo "outsider untouched):"
org show "$A" "$B" "$C" "$OUTSIDER" --json "$DEMO/org-after-event.json"

banner "The same event from an account outside the organization"
"$PY" scripts/org_seed.py event "$OUTSIDER" events/attach-admin-to-node-role.json >"$DEMO/org-in-outsider.json"
invoke event-outsider "$DEMO/org-in-outsider.json"

banner "The scheduled sweep over the organization"
echo "(the event's account is the central one: the sweep covers every guarded account)"
invoke sweep events/scheduled-sweep.json

banner "After"
org show "$A" "$B" "$C" "$OUTSIDER" --json "$DEMO/org-after.json"

banner "Notifications received by the central topic's SQS subscriber"
"$PY" scripts/seed.py --endpoint "$ENDPOINT" drain --queue-url "$QUEUE_URL" --no-text | tee "$DEMO/org-notifications.out"

banner "Checks"
"$PY" - "$DEMO" "$A" "$B" "$C" "$OUTSIDER" <<'EOP'
import json, re, sys
from pathlib import Path

demo, a, b, c, outsider = Path(sys.argv[1]), *sys.argv[2:]
central = "123456789012"
load = lambda name: json.loads((demo / name).read_text())
before, after_event, after = load("org-before.json"), load("org-after-event.json"), load("org-after.json")
event_a, event_out, sweep = load("org-event-a.json"), load("org-event-outsider.json"), load("org-sweep.json")
notes = (demo / "org-notifications.out").read_text()
attributes = re.findall(r"^    Attributes: (.*)$", notes, re.M)
lines = {line["account"]: line for line in sweep.get("accounts", [])}
checks = [
    ("the event from A remediated A's role", event_a.get("outcome") == "remediated" and event_a.get("account") == a
     and "AdministratorAccess" in before[a]["managed"] and "AdministratorAccess" not in after_event[a]["managed"]),
    ("the event left B, C and the outsider as they were",
     all(after_event[x] == before[x] for x in (b, c, outsider))),
    ("the outsider's event was ignored", event_out.get("outcome") == "ignored"),
    ("the sweep completed", sweep.get("outcome") == "sweep_completed"),
    ("the sweep has one line per guarded account, none failed",
     set(lines) == {central, a, b, c} and not any(l.get("reason") for l in lines.values())),
    ("the sweep remediated B and C, not the outsider",
     "AmazonS3FullAccess" not in after[b]["managed"] and not after[c]["inline"]
     and after[outsider] == before[outsider]),
    ("the summary reached the central topic's subscriber",
     any("outcome=sweep_completed" in x and f"account={central}" in x for x in attributes)),
    ("no notification about the outsider", not any(f"account={outsider}" in x for x in attributes)),
]
for name, ok in checks:
    print(f"  {'ok  ' if ok else 'FAIL'} {name}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
EOP

echo
echo "demo-org finished in $((SECONDS - START))s; Reports and logs are in .demo/org-*"
