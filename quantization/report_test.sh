#!/bin/bash
# Runs //quantization:report with --quick and checks its outputs: the JSON object has every
# key quantization/README.md documents, with numbers, and the model files it wrote load.
# (--quick trains on 2000 images and measures nothing well; this checks the plumbing.)
set -uo pipefail
report=$1
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/qreport.XXXXXX")
if ! "$report" --quick --out_dir="$out" --json="$out/figures.json" >"$out/stdout" 2>&1; then
  echo "report failed:"; cat "$out/stdout"; exit 1
fi
fail=0
for key in mlp_accuracy_drop_points cnn_accuracy_drop_points int8_size_ratio int4_size_ratio \
    int8_vs_f32_gemm_1024 int8_gemm_gops_512 int8_vs_xnnpack_qs8_512 \
    cnn_int8_latency_speedup_batch1 cnn_int8_latency_speedup_batch64 \
    mlp_float_accuracy mlp_int8_accuracy cnn_float_accuracy cnn_int8_accuracy \
    mlp_int8_accuracy_minmax mlp_int8_accuracy_mse cnn_int8_accuracy_percentile \
    mlp_int8_size_ratio cnn_int8_size_ratio mlp_int8_latency_us_batch1 \
    gpt_float_val_loss gpt_int8_val_loss gpt_int4_val_loss gpt_int4_b32_val_loss int8_weight_size_ratio int4_b32_weight_size_ratio int4_weight_size_ratio gpt_int4_loss_change_pct \
    int8_kernel load_avg_1m machine_busy quick; do
  grep -q "\"$key\": " "$out/figures.json" || { echo "missing JSON key: $key"; fail=1; }
done
grep -q ': null' "$out/figures.json" && { echo "a figure is not a number:"; grep ': null' "$out/figures.json"; fail=1; }
for f in mlp_int8.ttm cnn_int8.ttm mlp_f32.ttm cnn_f32.ttm gpt_int8.ttm gpt_int4.ttm; do
  [ -s "$out/$f" ] || { echo "missing model file $f"; fail=1; }
done
[ $fail -eq 0 ] && echo "report_test: 1 passed, 0 failed" || cat "$out/stdout"
exit $fail
