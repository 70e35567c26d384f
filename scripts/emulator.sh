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

# What the scripts start, stopped by stop_all: the moto server's and `cargo lambda watch`'s
# process groups, and the `cargo lambda invoke` in flight.
MOTO_PGID=""
WATCH_PGID=""
INVOKE_PID=""

# stop_all: stops what is running and exits with the script's status.
stop_all() {
  local rc=$?
  trap - EXIT INT TERM
  # `timeout` passes the signal on to the invoke it runs
  [[ -z "$INVOKE_PID" ]] || kill -TERM "$INVOKE_PID" 2>/dev/null || true
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

# build_function BIN LOG: `cargo build --bin BIN` with its output in LOG; on a build error, the
# last lines of LOG and exit 1. `cargo lambda watch` runs `cargo run` on the first invocation;
# building the same binary first keeps that compile (minutes on a cold machine) out of the invoke
# timeouts and stops a demo with the compiler's message if the code does not build.
build_function() {
  local bin="$1" log="$2" start=$SECONDS
  banner "Build the function (cargo build --bin $bin)"
  echo "building... (a cold build takes several minutes; log: ${log#"$PWD"/})"
  if ! cargo build --bin "$bin" </dev/null >"$log" 2>&1; then
    echo "error: the function does not build; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  echo "built in $((SECONDS - start))s"
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
  MOTO_PGID=$MOTO_PID
  if ! read -r -t 90 ENDPOINT <&"${MOTO[0]}" || [[ "$ENDPOINT" != http://* ]]; then
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
