#!/usr/bin/env bash
# Builds the EventDecoder fuzzer (libFuzzer + AddressSanitizer) from the MuleCore sources and runs
# it for a bounded time. Usage: Fuzz/run.sh [seconds, default 30] [extra libFuzzer flags…]
# Output (binary, corpus, crash files) goes to $FUZZ_OUT (default /tmp/mulestream-fuzz), never into the repo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:-30}"
shift || true
out="${FUZZ_OUT:-/tmp/mulestream-fuzz}"
mkdir -p "$out/corpus" "$out/artifacts"

# One module with the MuleCore sources, so the harness can check internal invariants too.
# gold's "Cannot export local symbol '__asan_*'" warnings are harmless and filtered out.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name MuleCore \
    "$here/EventDecoderFuzz.swift" "$root"/Sources/MuleCore/*.swift \
    -o "$out/event-decoder-fuzz" >"$out/build.log" 2>&1; then
    cat "$out/build.log" >&2
    exit 1
fi
grep -v "Cannot export local symbol" "$out/build.log" >&2 || true

# Seed corpus: valid events in both ts/amount forms plus a few near-misses.
seed() { printf '%s' "$2" > "$out/corpus/$1"; }
seed contract '{"id":"tx-000193","ts":1764000000123,"payer":"A-10021","payee":"A-88412","amount":"1250.00","currency":"CNY","channel":"qr","qr":"QR-88412-1","payee_kind":"personal"}'
seed rfc3339 '{"id":"t","ts":"2025-11-24T18:07:01.120+08:00","payer":"A","payee":"B","amount":12.5,"payer_kind":"merchant"}'
seed leap '{"id":"t","ts":"2016-12-31T23:59:60Z","payer":"A","payee":"B","amount":"0.0001","channel":"wallet"}'
seed unknown '{"x":[1,-2.5e3,true,false,null,{"k":"\u00e9\ud83d\ude00\n"}],"id":"i","ts":0,"payer":"p","payee":"q","amount":1}'
seed escaped_name '{"\u0069d":"i","ts":1,"p\u0061yer":"p","payee":"q","amount":1}'
seed utf8 '{"id":"账户","ts":1,"payer":"😀","payee":"é","amount":1}'

cd "$out"
"$out/event-decoder-fuzz" -max_total_time="$seconds" -max_len=512 -artifact_prefix="$out/artifacts/" -dict="$here/event.dict" \
    -print_final_stats=1 "$@" "$out/corpus"
