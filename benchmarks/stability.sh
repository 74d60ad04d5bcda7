#!/usr/bin/env bash
# Flake rate of the stable suite: N consecutive `pytest -m stable -n 2` runs (default 50), each bounded by a timeout,
# with one line per run (exit code, duration, load average, passed/failed counts) and every failing run's summary.
#
#   bash benchmarks/stability.sh [RUNS] [extra pytest args...]          # e.g. bash benchmarks/stability.sh 50
#   bash benchmarks/stability.sh --resume DIR [RUNS] [extra pytest args...]
#
# Output: .harness/stability/<start time>/{commit,runs.tsv,run-N.log,failures.txt,summary.txt}; exit code 0 only when
# every run of the series passed. A series is of one commit: it refuses to start in a checkout with uncommitted
# changes to tracked files, and `--resume DIR` (a series stopped before its RUNS, e.g. to free the machine) goes on
# numbering in DIR only on the commit DIR was started on, until DIR holds RUNS runs; the summary covers all of them.
# The loop is bounded (RUNS runs, each killed after RUN_TIMEOUT_S, default 900 s) and stops by itself.
set -uo pipefail
cd "$(dirname "$0")/.."
resume=""
if [ "${1:-}" = "--resume" ]; then
  resume="${2:?--resume needs the series directory, e.g. .harness/stability/20261208-014445}"; shift 2
fi
runs="${1:-50}"; shift || true
case "$runs" in ''|*[!0-9]*) echo "stability: RUNS must be a number of runs, got '$runs'" >&2; exit 2 ;; esac
timeout_s="${RUN_TIMEOUT_S:-900}"
if ! git diff --quiet HEAD -- 2>/dev/null; then
  echo "stability: uncommitted changes to tracked files; a series is of one commit: commit or stash them first" >&2
  git status --short --untracked-files=no >&2
  exit 2
fi
commit=$(git rev-parse HEAD)
if [ -n "$resume" ]; then
  out="${resume%/}"
  [ -f "$out/runs.tsv" ] || { echo "stability: $out/runs.tsv not found: not a series directory" >&2; exit 2; }
  started=$(cat "$out/commit" 2>/dev/null || true)
  if [ "$started" != "$commit" ]; then
    echo "stability: $out is a series of ${started:-an unrecorded commit}, this checkout is $commit:" \
      "resume it on that commit (git checkout --detach ${started:-COMMIT}) or start a new series" >&2
    exit 2
  fi
  first=$(( $(awk -F'\t' 'NR > 1 { n = $1 } END { print n + 0 }' "$out/runs.tsv") + 1 ))
else
  out=".harness/stability/$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$out"
  echo "$commit" > "$out/commit"
  printf 'run\texit\tseconds\tload1\tsummary\n' > "$out/runs.tsv"
  first=1
fi
if [ "$first" -gt "$runs" ]; then
  echo "stability: $out already holds $((first - 1)) runs of $runs; nothing to run" >&2
fi
echo "series $out of commit $commit: runs $first-$runs"
for i in $(seq "$first" "$runs"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s%N)
  timeout -k 30 "$timeout_s" .venv/bin/python -m pytest -m stable -n 2 -q -p no:randomly "$@" > "$out/run-$i.log" 2>&1
  code=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  secs="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
  summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$out/run-$i.log" | tail -1 | tr -d '=' | xargs)
  printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$code" "$secs" "$load" "$summary" >> "$out/runs.tsv"
  if [ "$code" -ne 0 ]; then
    { echo "== run $i (exit $code)"; grep -E '^(FAILED|ERROR)' "$out/run-$i.log"; } >> "$out/failures.txt"
  fi
  echo "run $i/$runs: exit $code, $secs s, load $load, $summary"
done
awk -F'\t' -v commit="$commit" -v args="$*" '
  NR > 1 { n++; if ($2 == 0) ok++; s += $3; if ($3 > m) m = $3; if (min == "" || $3 < min) min = $3; l += $4 }
  END {
    printf "stable suite, commit %s, %d consecutive runs of pytest -m stable -n 2 %s: %d passed, %d failed\n", commit, n, args, ok, n - ok
    if (n > 0) printf "duration %.1f-%.1f s, mean %.1f s; load average at the start of a run: mean %.2f\n", min, m, s / n, l / n
    exit (n == ok) ? 0 : 1
  }' "$out/runs.tsv" | tee "$out/summary.txt"
awk -F'\t' 'NR > 1 && $2 != 0 { bad = 1 } END { exit bad }' "$out/runs.tsv"
