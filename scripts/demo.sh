#!/usr/bin/env bash
# The product, locally and for real: a moto server seeded with a realistic EKS account, the real
# function under `cargo lambda watch`, every events/*.json file invoked first in dry-run, then in
# enforce mode, with the SNS notifications read back from an SQS queue.
# Run by `make demo`. Needs no stdin; writes only under .demo/; leaves no process behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
PY="$ROOT/.venv/bin/python"
DEMO="$ROOT/.demo"
FUNCTION=node-role-remediator
QUEUE=eks-node-role-guard-inbox
ROLES=eks-node-prod,eks-node-batch,eks-node-gpu,eks-node-staging,eksctl-platform-nodegroup-ng-1-NodeInstanceRole-DEMO,ci-deployer,bastion-ec2
START=$SECONDS

mkdir -p "$DEMO"
rm -f "$DEMO"/*.log "$DEMO"/*.env "$DEMO"/*.json "$DEMO"/*.out "$DEMO"/*.err "$DEMO"/*.ids

# shellcheck source=scripts/emulator.sh
source "$ROOT/scripts/emulator.sh"

stop_on_exit

# An error from the function is part of the demo; a dead emulator or runtime emulator is not:
# stop with its log. still_running NAME PGID LOG
still_running() {
  alive "$2" && return 0
  echo "error: $1 exited; last lines of $3:" >&2
  tail -n 20 "$3" >&2
  exit 1
}

seed_py() { "$PY" scripts/seed.py --endpoint "$ENDPOINT" "$@"; }

# ---- 1. the emulator ---------------------------------------------------------------------------
banner "Local AWS (moto)"
start_moto "$DEMO/moto.log"
echo "moto_server on $ENDPOINT (log: .demo/moto.log)"

# ---- 2. a realistic account -------------------------------------------------------------------
banner "Seed the account"
seed_py seed --trail --eksctl-role --notify-queue "$QUEUE" | tee "$DEMO/seed.out"
TOPIC_ARN="$(sed -n 's/^TOPIC_ARN=//p' "$DEMO/seed.out")"
QUEUE_URL="$(sed -n 's/^QUEUE_URL=//p' "$DEMO/seed.out")"
[[ -n "$TOPIC_ARN" && -n "$QUEUE_URL" ]] || { echo "error: seed printed no TOPIC_ARN/QUEUE_URL" >&2; exit 1; }

# ---- 3. before ---------------------------------------------------------------------------------
banner "Before"
seed_py show --roles "$ROLES" --json "$DEMO/before.json"

build_workspace
echo
echo "Note: moto has no EKS access-entry, add-on or Pod Identity APIs (it answers HTML 404), so every"
echo "scan warns once per cluster and AmazonEKS_CNI_Policy is kept because its need cannot be checked."
echo "In AWS they succeed (template.yaml grants them) and neither shows up."

# invoke_error ERRFILE OUTFILE: the error cargo lambda invoke printed, without its help footer
invoke_error() {
  cat "$1" "$2" | sed -e '/Was this behavior unexpected/,$d' -e '/^[[:space:]]*$/d' | sed 's/^/  | /'
}

# ---- 4-7. the function, per mode ----------------------------------------------------------------
run_mode() {
  local mode="$1" env_file="$DEMO/$1.env" log="$DEMO/watch-$1.log" port first=1
  banner "$mode: the function under cargo lambda watch (MODE=$mode)"
  function_env "$env_file" "$mode" "$TOPIC_ARN"
  port="$(free_port)"
  start_function "$FUNCTION" "$env_file" "$port" "$log"
  echo "function emulator on 127.0.0.1:$port (log: .demo/watch-$mode.log)"

  local f name out err rc limit
  local -a data
  local -a payloads=(events/*.json)
  # once: what a payload that is not an EventBridge event gets (an error, no action)
  [[ "$mode" != dry-run ]] || payloads+=('{"hello":"not an EventBridge event"}')
  for f in "${payloads[@]}"; do
    if [[ "$f" == events/* ]]; then
      name="$(basename "$f" .json)"
      data=(--data-file "$f")
    else
      name="not-an-event"
      data=(--data-ascii "$f")
    fi
    out="$DEMO/$mode-$name.json"
    err="$DEMO/$mode-$name.err"
    # The first invocation also waits for the function's start-up; later ones answer at once.
    if ((first)); then limit=120; else limit=60; fi
    first=0
    if [[ "$name" == not-an-event ]]; then
      printf '\n-- %s [%s] payload %s (expected: an error)\n' "$name" "$mode" "$f"
    else
      printf '\n-- %s [%s]\n' "$name" "$mode"
    fi
    rc=0
    invoke_function "$limit" "$out" "$err" \
      "$FUNCTION" --invoke-address 127.0.0.1 --invoke-port "$port" "${data[@]}" || rc=$?
    if ((rc == 0)); then
      # what the function told: its own notification text, or the Report's outcome
      seed_py told "$out" --seen "$DEMO/told.ids" || echo "  (could not read .demo/$mode-$name.json)"
    elif ((rc == 124)); then
      echo "  no answer within ${limit}s (see .demo/watch-$mode.log)"
    else
      echo "  error (cargo lambda invoke exit $rc):"
      invoke_error "$err" "$out"
    fi
    still_running moto_server "$MOTO_PGID" "$DEMO/moto.log"
    still_running "cargo lambda watch" "$WATCH_PGID" "$log"
    still_running "the function" "$FUNCTION_PGID" "$log"
  done

  banner "$mode: notifications received by the SQS subscriber"
  # their texts are shown above, with the invocation that published them
  seed_py drain --queue-url "$QUEUE_URL" --no-text

  stop_function
}

run_mode dry-run
run_mode enforce

# ---- 8. after ----------------------------------------------------------------------------------
banner "After"
seed_py show --roles "$ROLES" --json "$DEMO/after.json"

banner "What changed"
"$PY" - "$DEMO/before.json" "$DEMO/after.json" <<'EOF'
import json, sys, textwrap

before, after = (json.load(open(p)) for p in sys.argv[1:3])
changes, untouched = [], []
for role, b in before.items():
    a = after.get(role) or {"managed": [], "inline": []}
    gone = [p.rsplit("/", 1)[-1] + (" (customer-managed)" if ":aws:policy/" not in p else "")
            for p in b["managed"] if p not in a["managed"]]
    gone += [f"inline {p}" for p in b["inline"] if p not in a["inline"]]
    added = [p for p in a["managed"] + a["inline"] if p not in b["managed"] + b["inline"]]
    if gone or added:
        text = f"{role} lost {', '.join(gone)}" if gone else role
        if added:
            text += f" and gained {', '.join(added)}"
        changes.append(text)
    else:
        untouched.append(role)
para = (
    "Dry-run reported and notified without touching anything; enforce mode then "
    + ("changed: " + "; ".join(changes) + ". " if changes else "changed nothing. ")
    + "The allowlisted AWS-managed worker, ECR read-only and CNI policies stayed on every node role"
    + (", and " + ", ".join(untouched) + " kept everything they had" if untouched else "")
    + " (roles that do not back an EKS node group are out of scope)."
)
print(textwrap.fill(para, 100))
EOF
echo
echo "demo finished in $((SECONDS - START))s; Reports, logs and env files are in .demo/"
