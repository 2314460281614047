#!/bin/bash
# Runs //acceleration:speedup_report with --quick (tiny budgets, no full epochs) and checks
# that it writes every documented JSON key. It measures nothing well; it checks plumbing.
set -uo pipefail
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/speedup.XXXXXX")
if ! "$1" --quick --json="$out/figures.json" >"$out/stdout" 2>&1; then
  echo "speedup_report failed:"; cat "$out/stdout"; exit 1
fi
fail=0
for key in own_vs_xnnpack_256 best_vs_naive_128 threads2_vs_threads1_64 peak_gflops \
    cnn_epoch_seconds mlp_epoch_seconds cnn_latency_us_batch1 mlp_latency_us_batch1 \
    cnn_epoch_seconds_reference mlp_accuracy_1epoch_auto contended_own_2t_ms machine_busy; do
  grep -q "\"$key\": " "$out/figures.json" || { echo "missing JSON key: $key"; fail=1; }
done
[ $fail -eq 0 ] && echo "speedup_report_test: 1 passed, 0 failed" || cat "$out/stdout"
exit $fail
