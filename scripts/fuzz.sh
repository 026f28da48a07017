#!/usr/bin/env bash
# Fuzzes one target for a bounded time:
#
#   scripts/fuzz.sh pcap|pcap_pipeline|proc|qmp|guest [SECONDS]   (default 60)
#   scripts/fuzz.sh build                                          (the libFuzzer targets only)
#
# pcap, pcap_pipeline and proc are libFuzzer targets (native/fuzz/), built
# here with clang (ASan + UBSan) into build-cmake/fuzz; qmp and guest are
# fast-check properties (test/fuzz/), run by scripts/fuzz-property.ts.
# The seeds stay in test/fixtures; the libFuzzer targets also get the real
# captures of test/fixtures/pcap, each behind the two control bytes the
# harnesses read first (native/fuzz/corpus-README.md). What the fuzzer adds
# goes to LABTEL_FUZZ_CORPUS (default build-cmake/fuzz/corpus-TARGET), a
# crashing input to LABTEL_FUZZ_ARTIFACTS (default build-cmake/fuzz/crashes-TARGET/);
# LABTEL_FUZZ_MAX_LEN (default 4096) bounds an input's length.
#
# Last line, on success: "fuzz: TARGET ran N inputs in S s (R/s)"; on a
# crash: "fuzz: TARGET crashed: input saved at PATH (replay: ...)", exit 1.
# Exit 2: bad usage, no clang, or the build failed (its log is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: scripts/fuzz.sh pcap|pcap_pipeline|proc|qmp|guest [SECONDS] | scripts/fuzz.sh build"
target=${1:?$usage}
seconds=${2:-60}
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz: SECONDS must be a positive integer, got '$seconds'" >&2; exit 2; }

case "$target" in
  qmp|guest) exec node --import tsx scripts/fuzz-property.ts "$target" "$seconds" ;;
  build|pcap|pcap_pipeline|proc) ;;
  *) echo "fuzz: unknown target '$target'; $usage" >&2; exit 2 ;;
esac

out=build-cmake/fuzz
command -v clang++ >/dev/null || { echo "fuzz: clang++ is needed for the libFuzzer targets (apt-get install clang)" >&2; exit 2; }
command -v cmake >/dev/null || { echo "fuzz: cmake is needed (apt-get install cmake)" >&2; exit 2; }
mkdir -p "$out"
build_start=$(date +%s.%N)
# Configured once (cmake --build reconfigures when CMakeLists.txt changes).
configure() {
  grep -q '^LABTEL_FUZZ:BOOL=ON$' "$out/CMakeCache.txt" 2>/dev/null ||
    cmake -S native -B "$out" -DCMAKE_CXX_COMPILER=clang++ -DLABTEL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
}
if ! { configure && cmake --build "$out" --target fuzz_pcap fuzz_pcap_pipeline fuzz_proc -j2; } >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log" >&2
  echo "fuzz: building the libFuzzer targets failed (whole log: $out/build.log)" >&2
  exit 2
fi
# Seeds the harnesses read as they are, made with every build: pcap's two
# control bytes in front of each real capture (ctl alternating plain, small
# limits, lateness; the chunking seed varies), /proc files flattened under
# unique names. Written aside and moved into place, for a fuzzer running beside.
new=$out/seeds.$$
rm -rf "$new"
mkdir -p "$new/seeds-pcap" "$new/seeds-proc"
i=0
for f in test/fixtures/pcap/*.pcap test/fixtures/pcap/*.pcapng; do
  ctl=$((0x60 | (i & 1 ? 4 : 0) | (i & 2 ? 8 : 0)))
  { printf "\\$(printf '%03o' "$ctl")\\$(printf '%03o' $(((17 * i + 3) & 255)))"; cat "$f"; } >"$new/seeds-pcap/real-$(basename "$f")"
  i=$((i + 1))
done
i=0
while IFS= read -r f; do
  cp "$f" "$new/seeds-proc/$(printf '%04d' $i)-$(basename "$f")"
  i=$((i + 1))
done < <(find test/fixtures/proc -type f \( -name stat -o -name status -o -name statm -o -name io \) | sort | head -200)
for d in seeds-pcap seeds-proc; do
  rm -rf "$out/$d"
  mv "$new/$d" "$out/$d"
done
rmdir "$new"
echo "fuzz: libFuzzer targets built in $(awk -v a="$build_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($out)"
[ "$target" = build ] && exit 0

case "$target" in
  proc) seed_dirs=("$out/seeds-proc") ;;
  *) seed_dirs=("$out/seeds-pcap" test/fixtures/fuzz-corpus) ;;
esac
work=${LABTEL_FUZZ_CORPUS:-$out/corpus-$target}
artifacts=${LABTEL_FUZZ_ARTIFACTS:-$out/crashes-$target/}
mkdir -p "$work" "$(dirname "${artifacts}x")"
# Small inputs: at 4096 bytes fuzz_pcap ran ~10x the inputs of 65536 and
# reached more coverage in the same time (corpus-README.md); a real capture
# seed is read up to it (a capture cut short is still one).
max_len=${LABTEL_FUZZ_MAX_LEN:-4096}
log=$out/last-$target.log
start=$(date +%s.%N)
set +e
"./$out/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$work" "${seed_dirs[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
  if [ -n "$crash" ]; then
    echo "fuzz: $target crashed: input saved at $crash (replay: ./$out/fuzz_$target $crash)"
  else
    echo "fuzz: $target failed (exit $rc) and saved no input; its output is in $log"
  fi
  exit 1
fi
units=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)$/\1/p' "$log" | tail -1)
[ -n "$units" ] || { echo "fuzz: $target printed no stat::number_of_executed_units (output: $log)"; exit 1; }
awk -v t="$target" -v n="$units" -v a="$start" -v b="$end" 'BEGIN { s = b - a; printf "fuzz: %s ran %d inputs in %.1f s (%.0f/s)\n", t, n, s, n / s }'
