#!/usr/bin/env bash
# Runs the conformance suite against the broken adapters and passes only if every case named
# here fails (a suite that cannot fail proves nothing) and nothing else does.
#   expect_failures.sh BINARY
set -uo pipefail
binary="$1"
expected=(
  Forgetful.SavedStateSurvivesAReopen
  Forgetful.CompactionAndInstalledSnapshotsSurviveConsistently
  Forgetful.ATruncatedSuffixDoesNotComeBack
  Forgetful.UnsyncedSavesAreOrderedAndReadable
  Forgetful.ACoreRunsAndRestartsOnIt
  Torn.RefusedBatchesChangeNothing
  Nameless.SnapshotsReportTheirOutcome
  Nameless.EachSnapshotReportNamesItsSnapshot
)
out="$("$binary" 2>&1)"
failed="$(grep -E '^\[  FAILED  \] [A-Za-z]+\.[A-Za-z]+ \(' <<<"$out" | sed -E 's/^\[  FAILED  \] ([^ ]+) .*/\1/' | sort -u)"
status=0
for name in "${expected[@]}"; do
  if ! grep -qx "$name" <<<"$failed"; then
    echo "conformance suite did not catch the broken adapter: $name passed"
    status=1
  fi
done
while read -r name; do
  [[ -z "$name" ]] && continue
  if ! printf '%s\n' "${expected[@]}" | grep -qx "$name"; then
    echo "unexpected failure: $name"
    status=1
  fi
done <<<"$failed"
if ((status == 0)); then
  echo "the suite caught every broken adapter case (${#expected[@]} expected failures)"
fi
exit "$status"
