#!/bin/bash
# Runs //compression:report with --quick and checks its outputs: the JSON object has every
# key compression/README.md requires, each a number (or a boolean where noted), the
# accuracy-vs-sparsity SVG exists and is an SVG, and the model files were written.
# (--quick trains on 2000 images and measures nothing well; this checks the plumbing.)
set -uo pipefail
report=$1
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/creport.XXXXXX")
if ! "$report" --quick --out_dir="$out" --json="$out/figures.json" >"$out/stdout" 2>&1; then
  echo "report failed:"; cat "$out/stdout"; exit 1
fi
json="$out/figures.json"
fail=0
# Keys whose value must be a JSON number.
numbers="mlp_90_finetuned_drop_points cnn_70_finetuned_drop_points structured_50_drop_points
  structured_50_speedup structured_50_speedup_batch1 structured_50_speedup_batch64
  sparse_vs_dense_90_batch1 sparse_vs_dense_90_batch64 pruned_int8_size_ratio
  mlp_float_accuracy cnn_float_accuracy mlp_dense_control_accuracy cnn_dense_control_accuracy
  structured_50_finetuned_accuracy structured_50_control_accuracy structured_50_pruned_accuracy
  structured_50_params cnn_params cnn_latency_us_batch1 structured_50_latency_us_batch64
  sparse_crossover_sparsity_batch1 mlp_90_sparse_speedup_batch1 mlp_90_sparse_speedup_batch64
  mlp_90_sparse_kernel_accuracy
  distill_teacher_accuracy distill_student_accuracy distill_labels_only_accuracy
  distill_gain_points distill_agreement distill_labels_only_agreement distill_student_params
  distill_t2_a50_accuracy distill_t2_a50_gain_points distill_t4_a70_accuracy distill_t4_a70_gain_points
  mlp_f32_file_bytes mlp_int8_file_bytes pruned_int8_file_bytes pruned_int8_vs_int8_ratio
  pruned_int8_accuracy pruned_float_accuracy mlp_int8_accuracy pruned_int8_weight_sparsity
  mlp_90_sparsity_0_weight mlp_90_sparsity_2_weight mlp_90_sparsity_4_weight
  cnn_90_sparsity_0_weight cnn_90_sparsity_3_weight cnn_90_sparsity_7_weight cnn_90_sparsity_9_weight
  load_avg_1m report_seconds"
for model in mlp cnn; do
  for s in 50 70 80 90 95; do
    numbers="$numbers ${model}_${s}_pruned_accuracy ${model}_${s}_finetuned_accuracy ${model}_${s}_finetuned_drop_points"
    numbers="$numbers ${model}_${s}_gradual_accuracy ${model}_${s}_gradual_drop_points"
  done
done
for s in 50 70 80 90 95 99; do
  numbers="$numbers sparse_vs_dense_${s}_batch1 sparse_vs_dense_${s}_batch64"
done
number_re='-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?'
for key in $numbers; do
  grep -Eq "\"$key\": $number_re(,|\})" "$json" || {
    echo "missing JSON key or not a number: $key ($(grep -o "\"$key\": [^,}]*" "$json"))"; fail=1; }
done
# sparse_crossover_sparsity_batch64 may be null (NaN): sparse never faster at batch 64.
for key in machine_busy quick sparse_crossover_sparsity_batch64; do
  grep -q "\"$key\": " "$json" || { echo "missing JSON key: $key"; fail=1; }
done
svg="$out/accuracy_vs_sparsity.svg"
if [ ! -s "$svg" ] || [ "$(head -c 4 "$svg")" != "<svg" ]; then
  echo "missing or bad SVG: $svg"; fail=1
elif ! tail -n 1 "$svg" | grep -q '</svg>'; then
  echo "SVG not closed"; fail=1
fi
for f in mlp_f32.ttm cnn_f32.ttm mlp_int8.ttm mlp_p90_f32.ttm mlp_p90_int8.ttm; do
  [ -s "$out/$f" ] || { echo "missing model file $f"; fail=1; }
done
# One section alone, from the saved float MLP: no training, no CNN, no sweep.
one="$out/one"
if ! "$report" --quick --sections=int8 --mlp_model="$out/mlp_f32.ttm" --out_dir="$one" \
    --json="$one/figures.json" >"$one.stdout" 2>&1; then
  echo "--sections=int8 failed:"; cat "$one.stdout"; fail=1
else
  grep -Eq "\"pruned_int8_size_ratio\": $number_re" "$one/figures.json" ||
    { echo "--sections=int8: no pruned_int8_size_ratio"; fail=1; }
  grep -q '"cnn_float_accuracy"\|"mlp_50_pruned_accuracy"' "$one/figures.json" &&
    { echo "--sections=int8 ran other sections"; fail=1; }
fi
"$report" --quick --sections=bogus --out_dir="$one" >"$one.bad" 2>&1 &&
  { echo "--sections=bogus was accepted"; fail=1; }
grep -q "unknown section 'bogus'" "$one.bad" || { echo "no error for --sections=bogus:"; cat "$one.bad"; fail=1; }
[ $fail -eq 0 ] && echo "report_test: 1 passed, 0 failed" || cat "$out/stdout"
exit $fail
