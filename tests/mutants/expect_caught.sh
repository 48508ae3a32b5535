#!/usr/bin/env bash
# The ctest of one mutant (tests/mutants/CMakeLists.txt): passes only if the simulator catches
# the broken core within its budget, with a seed that reproduces the failure.
#
#   expect_caught.sh NAME SIM REPLAY CONTROL TRACE_DIR SEEDS NODES [PROFILE]
#
# 1. SIM (skiff-sim built on the mutant) runs SEEDS seeds x NODES sizes with PROFILE and must
#    fail: exit 1 with "FAIL seed" (a violation; its trace is written to TRACE_DIR), or an
#    abort whose handler printed "aborted during seed" (a core assertion fired).
# 2. The failure must reproduce: REPLAY (skiff-replay on the mutant) replays the written trace
#    and must exit 1; for an abort, SIM reruns the named seed alone and must abort again.
# 3. CONTROL (the real skiff-sim) runs the catching seed with the same options and must pass:
#    the simulator caught the mutant, not a false positive of its own.
set -uo pipefail

if (($# < 7)); then
  echo "usage: expect_caught.sh NAME SIM REPLAY CONTROL TRACE_DIR SEEDS NODES [PROFILE]" >&2
  exit 2
fi
name="$1" sim="$2" replay="$3" control="$4" trace_dir="$5" seeds="$6" nodes="$7"
profile="${8:-}"
set_args=()
if [[ -n "$profile" ]]; then
  set_args=(--set "$profile")
fi

rm -rf "$trace_dir"
mkdir -p "$trace_dir"
log="$trace_dir/sim.log"

echo "mutant ${name}: skiff-sim --seeds ${seeds} --nodes ${nodes}${profile:+ --set \"${profile}\"}"
rc=0
"$sim" --seeds "$seeds" --nodes "$nodes" "${set_args[@]}" --quiet --trace-dir "$trace_dir" \
  >"$log" 2>&1 || rc=$?

if ((rc == 1)) && grep -q '^FAIL seed' "$log"; then
  # "FAIL seed 17, 3 nodes (trace: DIR/skiff-sim-n3-s17.trace, replay: ...)"
  fail_line="$(grep -m1 '^FAIL seed' "$log")"
  seed="$(sed -E 's/^FAIL seed ([0-9]+), ([0-9]+) nodes.*/\1/' <<<"$fail_line")"
  size="$(sed -E 's/^FAIL seed ([0-9]+), ([0-9]+) nodes.*/\2/' <<<"$fail_line")"
  trace="$(sed -E 's/.*\(trace: ([^,]+), replay:.*/\1/' <<<"$fail_line")"
  echo "CAUGHT by seed ${seed} with ${size} nodes:"
  sed -n '/^FAIL seed/,$p' "$log" | grep -v '^skiff-sim:' | head -n 20
  if [[ ! -s "$trace" ]]; then
    echo "mutant ${name}: the failing run wrote no trace at ${trace}"
    exit 1
  fi
  replay_rc=0
  "$replay" --quiet "$trace" >"$trace_dir/replay.log" 2>&1 || replay_rc=$?
  if ((replay_rc != 1)); then
    echo "mutant ${name}: replaying ${trace} exited ${replay_rc}, expected 1 (the violation):"
    cat "$trace_dir/replay.log"
    exit 1
  fi
  echo "$(basename "$replay") ${trace} reproduces it:"
  grep '^violation:' "$trace_dir/replay.log" | head -n 3
elif grep -q 'aborted during seed' "$log"; then
  # "skiff-sim: aborted during seed 5 with 3 nodes; rerun with --seed 5 --nodes 3"
  abort_line="$(grep -m1 'aborted during seed' "$log")"
  seed="$(sed -E 's/.*aborted during seed ([0-9]+) with ([0-9]+) nodes.*/\1/' <<<"$abort_line")"
  size="$(sed -E 's/.*aborted during seed ([0-9]+) with ([0-9]+) nodes.*/\2/' <<<"$abort_line")"
  echo "CAUGHT by an internal assertion, seed ${seed} with ${size} nodes:"
  grep -v '^$' "$log" | tail -n 5
  rerun_rc=0
  "$sim" --seed "$seed" --nodes "$size" "${set_args[@]}" --quiet --trace-dir "$trace_dir" \
    >"$trace_dir/rerun.log" 2>&1 || rerun_rc=$?
  if ! grep -q "aborted during seed ${seed} " "$trace_dir/rerun.log"; then
    echo "mutant ${name}: rerunning --seed ${seed} --nodes ${size} did not abort again" \
      "(exit ${rerun_rc}):"
    cat "$trace_dir/rerun.log"
    exit 1
  fi
  echo "rerunning --seed ${seed} --nodes ${size} aborts again"
else
  echo "NOT CAUGHT: mutant ${name} passed ${seeds} seeds x ${nodes} nodes (exit ${rc}):"
  cat "$log"
  exit 1
fi

mkdir -p "$trace_dir/control"
control_rc=0
"$control" --seed "$seed" --nodes "$size" "${set_args[@]}" --quiet \
  --trace-dir "$trace_dir/control" >"$trace_dir/control.log" 2>&1 || control_rc=$?
if ((control_rc != 0)); then
  echo "mutant ${name}: the real core FAILS seed ${seed} with ${size} nodes too (exit" \
    "${control_rc}): a simulator or core bug, not proof that the mutant was caught:"
  cat "$trace_dir/control.log"
  exit 1
fi
echo "the real core passes seed ${seed} with ${size} nodes"
echo "rerun: $(basename "$sim") --seed ${seed} --nodes ${size}${profile:+ --set \"${profile}\"}"
if [[ -n "${trace:-}" ]]; then
  echo "replay: $(basename "$replay") ${trace}"
fi
