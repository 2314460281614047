#!/usr/bin/env bash
# End to end: `tinymlperf --all --quick` runs every event and recipe, writes sealed result
# files, a leaderboard (Markdown and HTML) and the JSON summary with the documented
# keys; the leaderboard tool then rejects a result file edited by hand; bad flags fail
# with a clear message.
set -euo pipefail
bin="$TEST_SRCDIR/tinytorch/benchmarking/tinymlperf"
board="$TEST_SRCDIR/tinytorch/benchmarking/leaderboard"
out="$TEST_TMPDIR/results"
json="$TEST_TMPDIR/summary.json"

"$bin" --all --quick --out_dir="$out" --json="$json" >"$TEST_TMPDIR/stdout" 2>"$TEST_TMPDIR/stderr" || {
  cat "$TEST_TMPDIR/stderr"; exit 1; }

for key in best_mlp_speedup best_cnn_speedup best_transformer_speedup best_training_speedup \
           valid_results invalid_results seconds mlp_int8_speedup cnn_pruned_int8_speedup \
           transformer_cached_tokens_per_second training_accelerated_images_per_second; do
  grep -q "\"$key\":" "$json" || { echo "summary lacks $key"; cat "$json"; exit 1; }
done
# 4 + 4 + 4 + 2 recipes, each as text and binary.
n=$(ls "$out"/*.result.txtpb | wc -l)
[ "$n" -eq 14 ] || { echo "expected 14 text results, found $n"; ls "$out"; exit 1; }
[ "$(ls "$out"/*.result.pb | wc -l)" -eq 14 ]
grep -q "<svg" "$out/leaderboard.html"
grep -q "mlp.*sprint" "$out/leaderboard.md"
grep -q "Training Relay" "$TEST_TMPDIR/stdout"

# Tamper with one result: the leaderboard must reject it, naming the checksum.
victim=$(ls "$out"/int8-mlp_sprint-*.result.txtpb)
sed -i 's/\(samples_per_second: \)[0-9.e+]*/\1999999/' "$victim"
rm "${victim%.txtpb}.pb"
"$board" "$out" >"$TEST_TMPDIR/board" 2>&1 || true
grep -q "rejected" "$TEST_TMPDIR/board" || { cat "$TEST_TMPDIR/board"; exit 1; }
grep -qi "checksum\|sha" "$TEST_TMPDIR/board" || { cat "$TEST_TMPDIR/board"; exit 1; }

# Bad input: clear errors, non-zero exit.
if "$bin" --event=decathlon --out_dir="$out" 2>"$TEST_TMPDIR/err"; then exit 1; fi
grep -q "unknown event 'decathlon'" "$TEST_TMPDIR/err"
if "$bin" --event=mlp_sprint --recipe=int3 --out_dir="$out" 2>"$TEST_TMPDIR/err"; then exit 1; fi
grep -q "unknown recipe 'int3'" "$TEST_TMPDIR/err"
if "$bin" --out_dir="$out" 2>"$TEST_TMPDIR/err"; then exit 1; fi
grep -q "give --event" "$TEST_TMPDIR/err"
echo PASS
