#!/bin/bash
# Runs //caching:report with --quick and checks its outputs: the JSON object has every key
# caching/README.md requires, each a number (or a boolean where noted), the latency chart
# is an SVG with both curves, and text was generated (samples.txt and sample_chars > 0).
# (--quick trains for 2 s and measures each thing once: this checks the plumbing, not
# the numbers.)
set -uo pipefail
report=$1
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/cachereport.XXXXXX")
if ! "$report" --quick --out_dir="$out" --json="$out/figures.json" >"$out/stdout" 2>&1; then
  echo "report failed:"; cat "$out/stdout"; exit 1
fi
json="$out/figures.json"
fail=0
numbers="cached_vs_uncached_256 cached_vs_uncached_512 cached_tokens_per_s_256
  uncached_tokens_per_s_256 decode_tokens_per_s_batch1 cached_tokens_per_second
  decode_tokens_per_s_median_step
  latency_ratio_pos500_pos50 uncached_latency_ratio_pos500_pos50 cache_bytes_per_token
  cache_bytes cache_max_seq_len engine_scratch_bytes model_weight_bytes
  int8_decode_tokens_per_s int4_decode_tokens_per_s f32_decode_tokens_per_s
  int8_decode_speedup int4_decode_speedup int8_val_loss int4_val_loss
  int8_loss_change_pct int4_loss_change_pct val_loss model_context_length
  train_sequence_length vocab_size prompt_tokens train_steps train_seconds
  prefill_us decode_us prefill_tokens_per_s prefill_gflops decode_gflops prefill_share_pct
  batch4_decode_tokens_per_s batch4_vs_batch1 sample_chars load_avg_1m report_seconds
  int8_kv_bytes_per_token int8_kv_memory_ratio int8_kv_decode_tokens_per_s_512
  f32_kv_decode_tokens_per_s_512 int8_kv_max_logit_diff int8_kv_argmax_agreement
  int8_kv_latency_ratio_pos500_pos50"
for n in 64 128 256 512; do
  numbers="$numbers cached_tokens_per_s_$n uncached_tokens_per_s_$n cached_vs_uncached_$n
    cached_decode_tokens_per_s_$n"
done
for p in 50 100 200 300 400 500; do
  numbers="$numbers cached_latency_us_pos$p uncached_latency_us_pos$p"
done
for key in $numbers; do
  grep -Eq "\"$key\": -?[0-9]" "$json" || { echo "missing or not a number: $key"; fail=1; }
done
for key in cached_equals_uncached machine_busy quick; do
  grep -Eq "\"$key\": (true|false)" "$json" || { echo "missing or not a boolean: $key"; fail=1; }
done
# Greedy decoding with and without the cache must agree even on a barely trained model.
grep -q '"cached_equals_uncached": true' "$json" || { echo "cached and uncached text differ"; fail=1; }
grep -Eq '"sample_chars": [1-9]' "$json" || { echo "no text was generated"; fail=1; }
svg="$out/latency_vs_position.svg"
if [ ! -s "$svg" ]; then
  echo "missing $svg"; fail=1
else
  head -c 200 "$svg" | grep -q '<svg' || { echo "$svg is not an SVG"; fail=1; }
  tail -c 20 "$svg" | grep -q '</svg>' || { echo "$svg is cut short"; fail=1; }
  [ "$(grep -c '<polyline' "$svg")" -ge 2 ] || { echo "$svg lacks the two curves"; fail=1; }
fi
[ -s "$out/samples.txt" ] || { echo "missing samples.txt"; fail=1; }
[ -s "$out/gpt_report.ttm" ] || { echo "missing the trained model gpt_report.ttm"; fail=1; }
[ $fail -eq 0 ] && echo "report_test: 1 passed, 0 failed" || cat "$out/stdout"
exit $fail
