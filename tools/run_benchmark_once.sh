#!/bin/bash
# Runs a Google Benchmark binary with the shortest possible measurement, so that
# `bazel test` proves every benchmark still builds and runs (it measures nothing).
set -euo pipefail
exec "$1" --benchmark_min_time=0 "${@:2}"
