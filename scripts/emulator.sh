# shellcheck shell=bash
# Shared by the demo and local scripts: process-group helpers, the local emulator, the function
# under the runtime emulator. Source it after setting ROOT and PY (the virtualenv's python).

# Each background service runs in its own session (setsid), so its process group id is its pid
# and `kill -- -PGID` ends it together with every child it started.
# (Right after `setsid ... &` the child may not have called setsid(2) yet, so the group can be
# missing for a moment: fall back to the pid itself.)
alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }
stop_group() {
  local pgid="$1"
  [[ -n "$pgid" ]] || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || kill -TERM "$pgid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    alive "$pgid" || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pgid" 2>/dev/null || kill -KILL "$pgid" 2>/dev/null || true
}

# What the scripts start, stopped by stop_all: the process groups of the emulator, of
# `cargo lambda watch` and of the function, and the `cargo lambda invoke` in flight.
MOTO_PGID=""
WATCH_PGID=""
FUNCTION_PGID=""
INVOKE_PID=""

# stop_all: stops what is running and exits with the script's status.
stop_all() {
  local rc=$?
  trap - EXIT INT TERM
  # `timeout` passes the signal on to the invoke it runs
  [[ -z "$INVOKE_PID" ]] || kill -TERM "$INVOKE_PID" 2>/dev/null || true
  stop_group "$FUNCTION_PGID"
  stop_group "$WATCH_PGID"
  stop_group "$MOTO_PGID"
  exit "$rc"
}

# stop_on_exit: stop_all when the script ends, fails or is interrupted.
stop_on_exit() {
  trap stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

STEP=0
# banner TEXT: a numbered step heading.
banner() {
  STEP=$((STEP + 1))
  printf '\n==== %d. %s ====\n' "$STEP" "$*"
}

# The workspace's debug binaries (the function, the command), built by one command with one
# feature set for every local target and the tests, so the SDK compiles once.
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

# build_workspace: `cargo build --workspace --bins`, its progress on the terminal; exit 1 if
# the code does not build.
build_workspace() {
  local start=$SECONDS
  banner "Build the function and the command (cargo build --workspace --bins)"
  echo "(a cold build compiles the AWS SDK once and takes several minutes; later builds take seconds)"
  if ! cargo build --workspace --bins </dev/null; then
    echo "error: the workspace does not build (the compiler's message is above)" >&2
    exit 1
  fi
  echo "built in $((SECONDS - start))s"
}

# start_function BIN ENV_FILE PORT LOG: `cargo lambda watch --only-lambda-apis` (the Lambda
# runtime and invoke APIs) on 127.0.0.1:PORT and the binary built by build_workspace polling
# it, with the environment of ENV_FILE; `cargo lambda invoke BIN --invoke-port PORT` reaches it.
# Both write to LOG; sets WATCH_PGID and FUNCTION_PGID.
start_function() {
  local bin="$1" env_file="$2" port="$3" log="$4"
  : >"$log"
  setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" \
    </dev/null >>"$log" 2>&1 &
  WATCH_PGID=$!
  wait_port "$port" "$WATCH_PGID" 120 "$log"
  (
    set -a
    # shellcheck source=/dev/null
    source "$env_file"
    export AWS_LAMBDA_FUNCTION_NAME="$bin" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=4096
    export AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt/$bin"
    exec setsid "$BIN_DIR/$bin"
  ) </dev/null >>"$log" 2>&1 &
  FUNCTION_PGID=$!
}

# stop_function: stops what start_function started.
stop_function() {
  stop_group "$FUNCTION_PGID"
  stop_group "$WATCH_PGID"
  FUNCTION_PGID=""
  WATCH_PGID=""
}

# invoke_function LIMIT OUT ERR ARG...: `cargo lambda invoke ARG...` for at most LIMIT seconds,
# stdout to OUT and stderr to ERR; its exit status. It runs in the background and is waited for,
# so INT/TERM reach the script's trap at once instead of after the invoke.
invoke_function() {
  local limit="$1" out="$2" err="$3" rc=0
  shift 3
  timeout "$limit" cargo lambda invoke "$@" </dev/null >"$out" 2>"$err" &
  INVOKE_PID=$!
  wait "$INVOKE_PID" || rc=$?
  INVOKE_PID=""
  return "$rc"
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PGID SECONDS LOG: until something listens on PORT, the group died, or time is up
wait_port() {
  local port="$1" pgid="$2" limit="$3" log="$4" waited=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! alive "$pgid"; then
      echo "error: the process behind port $port exited; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if ((waited >= limit * 10)); then
      echo "error: nothing listens on port $port after ${limit}s; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# start_moto LOG: the local emulator (scripts/emulator.py) on a free loopback port, answering;
# sets MOTO_PGID and ENDPOINT. It runs as a coprocess whose stdin this shell holds: when the
# script ends, however it ends, the emulator sees end of file and stops the server.
start_moto() {
  local log="$1"
  coproc MOTO { exec setsid "$PY" "$ROOT/scripts/emulator.py" --log "$log"; }
  # shellcheck disable=SC2153 # MOTO_PID is set by `coproc MOTO`
  MOTO_PGID=$MOTO_PID
  if ! read -r -t 240 ENDPOINT <&"${MOTO[0]}" || [[ "$ENDPOINT" != http://* ]]; then
    echo "error: the emulator did not start; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}

# function_env FILE MODE TOPIC_ARN: the function's environment against the emulator at $ENDPOINT
# (an env file for `cargo lambda watch --env-file`, which keeps comma lists whole).
function_env() {
  cat >"$1" <<EOF
MODE=$2
SNS_TOPIC_ARN=$3
SCAN_REGIONS=us-east-1,us-west-2
AWS_ENDPOINT_URL=$ENDPOINT
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=testing
AWS_SECRET_ACCESS_KEY=testing
RUST_LOG=info
EOF
}
