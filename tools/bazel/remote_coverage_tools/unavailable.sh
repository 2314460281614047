#!/bin/sh
echo "remote_coverage_tools: coverage reports are not available offline in this repository;" >&2
echo "run 'bazel test' without --collect_code_coverage (or use gcov by hand)." >&2
exit 1
