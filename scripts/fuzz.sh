#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs one for a
# bounded time from its seed corpus: scripts/fuzz.sh pcap|proc [SECONDS]
# The seeds stay in test/fixtures; what the fuzzer adds goes to build-cmake/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh pcap|proc [SECONDS]}
seconds=${2:-60}
command -v clang++ >/dev/null || { echo "fuzz: clang++ is needed (apt-get install clang)" >&2; exit 2; }
cmake -S native -B build-cmake/fuzz -DCMAKE_CXX_COMPILER=clang++ -DLABTEL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-cmake/fuzz --target "fuzz_$target" -j2 >/dev/null
work=build-cmake/fuzz/corpus-$target
mkdir -p "$work"
seeds=()
[ "$target" = pcap ] && seeds=(test/fixtures/fuzz-corpus test/fixtures/pcap)
[ "$target" = proc ] && seeds=(test/fixtures/proc)
if [ "$target" = proc ]; then find test/fixtures/proc -type f -name stat -o -type f -name status | head -50 | xargs -I{} cp {} "$work/" 2>/dev/null || true; seeds=(); fi
"./build-cmake/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work" "${seeds[@]}"
