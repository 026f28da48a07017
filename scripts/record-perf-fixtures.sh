#!/usr/bin/env bash
# Records perf stat's JSON interval output on this host, against a busy
# process, into test/fixtures/perf/recorded-<host kind>.jsonl. The other
# fixtures there are this output edited to the shapes other hosts print
# (see test/fixtures/perf/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/perf/recorded-software-only.jsonl
sh -c 'exec yes >/dev/null' &
busy=$!
trap 'kill $busy 2>/dev/null || true' EXIT
sleep 0.2
timeout -s INT 1.1 perf stat -j -I 200 -e cycles,instructions,branches,branch-misses,cache-references,cache-misses,page-faults,context-switches,cpu-clock \
  -p "$busy" --log-fd 1 > "$out" || true
echo "wrote $out ($(wc -l < "$out") lines)"
