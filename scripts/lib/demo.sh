# Shared by the demos (scripts/demo, demo-lock, demo-jobs): build one example service, run a
# 3-member cluster of it on loopback in a temporary directory, find and kill its leader,
# restart members, and clean everything up on exit. Source it; every wait is bounded.
#   SKIFF_DEMO_KEEP=1  keeps the temporary directory (logs, data) for a look afterwards

# demo_build TARGET: installs what is missing, configures the release preset, builds TARGET.
# Sets BIN to the built binary.
demo_build() {
  local target="$1"
  ./scripts/setup
  if [[ ! -f build/release/build.ninja ]]; then
    cmake --preset release >/dev/null
  fi
  echo "demo: building ${target} (first time: a few minutes)"
  cmake --build --preset release --target "$target" >/dev/null
  BIN="$(find build/release/examples -type f -name "$target" -perm -u+x | head -n 1)"
  [[ -x "$BIN" ]] || { echo "demo: ${target} was not built" >&2; exit 1; }
}

# demo_port: a loopback port nobody listens on.
demo_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "demo: no free port" >&2
  exit 1
}

# demo_cluster N [SERVE FLAGS...]: picks ports and a directory for N members (started later
# with demo_start). Sets DIR, PEERS, ENDPOINTS, HTTP[id], PIDS[id].
demo_cluster() {
  local n="$1"
  shift
  SERVE_FLAGS=("$@")
  DIR="$(mktemp -d /tmp/skiff-demo.XXXXXX)"
  PEERS=""
  ENDPOINTS=""
  declare -gA HTTP PIDS
  for id in $(seq 1 "$n"); do
    HTTP[$id]="127.0.0.1:$(demo_port)"
    PEERS="${PEERS:+$PEERS,}${id}=127.0.0.1:$(demo_port)"
    ENDPOINTS="${ENDPOINTS:+$ENDPOINTS,}${HTTP[$id]}"
  done
  trap demo_cleanup EXIT
}

# demo_start ID: starts member ID in the background, its output in $DIR/nodeID.log.
demo_start() {
  local id="$1"
  "$BIN" serve --id "$id" --peers "$PEERS" --http "${HTTP[$id]}" --data-dir "$DIR/node$id" \
    "${SERVE_FLAGS[@]}" >>"$DIR/node$id.log" 2>&1 &
  PIDS[$id]=$!
}

# demo_kill ID: SIGKILL, no goodbye.
demo_kill() {
  kill -KILL "${PIDS[$1]}" 2>/dev/null || true
  wait "${PIDS[$1]}" 2>/dev/null || true
  PIDS[$1]=""
}

# demo_leader: prints the id of the leader all running members agree on (waits up to 20 s).
demo_leader() {
  for _ in $(seq 1 200); do
    local agreed="" ok=1
    for id in "${!PIDS[@]}"; do
      [[ -n "${PIDS[$id]}" ]] || continue
      local l
      l="$(curl -s --max-time 1 "http://${HTTP[$id]}/status" |
        sed -n 's/.*"leader":\([0-9]*\).*/\1/p')"
      if [[ -z "$l" || "$l" == 0 || -z "${PIDS[$l]:-}" || (-n "$agreed" && "$l" != "$agreed") ]]; then
        ok=0
        break
      fi
      agreed="$l"
    done
    if ((ok)) && [[ -n "$agreed" ]]; then
      echo "$agreed"
      return 0
    fi
    sleep 0.1
  done
  echo "demo: no leader after 20 s; logs in $DIR" >&2
  SKIFF_DEMO_KEEP=1
  exit 1
}

# demo_step TEXT: a heading.
demo_step() {
  echo
  echo "=== $*"
}

# demo_run CMD...: shows a command, then runs it.
demo_run() {
  echo "\$ $*"
  "$@"
}

demo_cleanup() {
  for id in "${!PIDS[@]}"; do
    [[ -n "${PIDS[$id]}" ]] && kill -KILL "${PIDS[$id]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ "${SKIFF_DEMO_KEEP:-0}" == 1 ]]; then
    echo "demo: kept $DIR"
  else
    rm -rf "$DIR"
  fi
}
