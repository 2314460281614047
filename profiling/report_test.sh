#!/bin/bash
# Runs //profiling:report with --quick and checks its outputs: the JSON object has every
# key profiling/README.md documents, the SVGs and the trace exist and look like what
# they claim to be. (--quick measures nothing well; this checks the plumbing.)
set -uo pipefail
report=$1
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/report.XXXXXX")
if ! "$report" --quick --out_dir="$out" --json="$out/figures.json" >"$out/stdout" 2>&1; then
  echo "report failed:"; cat "$out/stdout"; exit 1
fi
fail=0
for key in timer_overhead_ns peak_gflops peak_gflops_2t peak_isa bandwidth_gbs bandwidth_gbs_2t \
    ci_rel_width_1ms ci_rel_width_1ms_target runs_1ms_target \
    mlp_forward_ms cnn_forward_ms gpt_forward_ms mlp_forward_gflops cnn_percent_of_peak \
    gpt_top_op gpt_top_op_percent ops_per_cnn_forward op_scope_inactive_ns \
    profiler_inactive_overhead_ratio profiler_active_overhead_ratio load_avg_1m machine_busy; do
  grep -q "\"$key\": " "$out/figures.json" || { echo "missing JSON key: $key"; fail=1; }
done
grep -q '"peak_gflops": null' "$out/figures.json" && { echo "peak_gflops is not a number"; fail=1; }
for model in mlp cnn gpt; do
  grep -q "<svg" "$out/roofline_$model.svg" || { echo "no SVG for $model"; fail=1; }
done
grep -q '"traceEvents"' "$out/trace_cnn.json" || { echo "no Chrome trace"; fail=1; }
grep -q '"name": *"conv2d"' "$out/trace_cnn.json" || { echo "trace has no conv2d event"; fail=1; }
grep -q "matmul" "$out/stdout" || { echo "op table has no matmul"; fail=1; }
[ $fail -eq 0 ] && echo "report_test: 1 passed, 0 failed" || cat "$out/stdout"
exit $fail
