#!/usr/bin/env bash
# Flake rate of the stable suite: N consecutive `pytest -m stable -n 2` runs (default 50), each bounded by a timeout,
# with one line per run (exit code, duration, load average, passed/failed counts) and every failing run's summary.
#
#   bash benchmarks/stability.sh [RUNS] [extra pytest args...]     # e.g. bash benchmarks/stability.sh 50
#
# Output: .harness/stability/<start time>/{runs.tsv,run-N.log,summary.txt}; exit code 0 only when every run passed.
# The loop is bounded (RUNS runs, each killed after RUN_TIMEOUT_S, default 900 s) and stops by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"; shift || true
timeout_s="${RUN_TIMEOUT_S:-900}"
out=".harness/stability/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
printf 'run\texit\tseconds\tload1\tsummary\n' > "$out/runs.tsv"
failed=0
for i in $(seq 1 "$runs"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s%N)
  timeout -k 30 "$timeout_s" .venv/bin/python -m pytest -m stable -n 2 -q -p no:randomly "$@" > "$out/run-$i.log" 2>&1
  code=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  secs="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
  summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$out/run-$i.log" | tail -1 | tr -d '=' | xargs)
  printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$code" "$secs" "$load" "$summary" >> "$out/runs.tsv"
  if [ "$code" -ne 0 ]; then
    failed=$((failed + 1))
    { echo "== run $i (exit $code)"; grep -E '^(FAILED|ERROR)' "$out/run-$i.log"; } >> "$out/failures.txt"
  fi
  echo "run $i/$runs: exit $code, $secs s, load $load, $summary"
done
passed=$((runs - failed))
{
  echo "stable suite, $runs consecutive runs of pytest -m stable -n 2 $*: $passed passed, $failed failed"
  awk -F'\t' 'NR > 1 { s += $3; if ($3 > m) m = $3; l += $4 } END { if (NR > 1) printf "duration mean %.1f s, max %.1f s; load average mean %.2f\n", s / (NR - 1), m, l / (NR - 1) }' "$out/runs.tsv"
} | tee "$out/summary.txt"
[ "$failed" -eq 0 ]
