#!/bin/bash
# Tests of tools/tito that need neither Bazel nor the network: usage and errors, the
# Debian package installer (root, sudo, neither, apt-get failing) and the test summary.
# dpkg-query, apt-get, id, sudo and bazel are replaced by stubs on PATH that log calls.
set -uo pipefail

TITO="$(pwd)/tools/tito"
[ -x "$TITO" ] || { echo "tools/tito not found in runfiles" >&2; exit 1; }

failures=0
passes=0
check() {  # check <description> <command...>: the command must succeed
  local what=$1; shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $what" >&2; failures=$((failures + 1)); fi
}

WORK=$(mktemp -d "${TEST_TMPDIR:-/tmp}/tito_test.XXXXXX")
STUBS="$WORK/bin"
mkdir -p "$STUBS"
export STUB_STATE="$WORK/state"
mkdir -p "$STUB_STATE"

# dpkg-query -W -f=FORMAT PKG: packages listed in $STUB_STATE/missing are not installed.
cat >"$STUBS/dpkg-query" <<'EOF'
#!/bin/bash
pkg=${!#}
if grep -qx "$pkg" "$STUB_STATE/missing" 2>/dev/null; then
  printf 'not-installed'
else
  case "$*" in *Version*) printf 'installed 1.0-stub' ;; *) printf 'installed' ;; esac
fi
EOF
# apt-get: logs its arguments; `install` marks the packages installed unless told to fail.
cat >"$STUBS/apt-get" <<'EOF'
#!/bin/bash
echo "apt-get $*" >>"$STUB_STATE/apt.log"
[ -f "$STUB_STATE/apt_fails" ] && exit 100
if [ "${1:-}" = install ]; then
  for p in "$@"; do sed -i "/^$p\$/d" "$STUB_STATE/missing" 2>/dev/null; done
fi
exit 0
EOF
cat >"$STUBS/id" <<'EOF'
#!/bin/bash
cat "$STUB_STATE/uid" 2>/dev/null || echo 0
EOF
# sudo -n: works only when $STUB_STATE/sudo_ok exists.
cat >"$STUBS/sudo" <<'EOF'
#!/bin/bash
[ -f "$STUB_STATE/sudo_ok" ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
echo "sudo $*" >>"$STUB_STATE/sudo.log"
exec "$@"
EOF
# bazel: logs its arguments and prints the summary lines in $STUB_STATE/bazel_out.
cat >"$STUBS/bazel" <<'EOF'
#!/bin/bash
echo "bazel $*" >>"$STUB_STATE/bazel.log"
cat "$STUB_STATE/bazel_out" 2>/dev/null
exit "$(cat "$STUB_STATE/bazel_rc" 2>/dev/null || echo 0)"
EOF
chmod +x "$STUBS"/*
export PATH="$STUBS:$PATH"

reset_state() { rm -rf "$STUB_STATE"; mkdir -p "$STUB_STATE"; }
run() { "$TITO" "$@" >"$WORK/out" 2>"$WORK/err"; echo $? >"$WORK/rc"; }
rc() { cat "$WORK/rc"; }
out_has() { grep -q -- "$1" "$WORK/out"; }
err_has() { grep -q -- "$1" "$WORK/err"; }

# --- usage and errors ---
reset_state
run help
check "help exits 0" [ "$(rc)" = 0 ]
check "help prints usage" out_has "usage: tools/tito"
check "help lists check-order" out_has "check-order"
run
check "no command prints usage" out_has "usage: tools/tito"
run frobnicate
check "unknown command exits 2" [ "$(rc)" = 2 ]
check "unknown command is named" err_has "unknown command 'frobnicate'"
check "unknown command prints usage" err_has "usage: tools/tito"
run test nosuchmodule
check "unknown module fails" [ "$(rc)" = 1 ]
check "unknown module is named with the module list" err_has "unknown module 'nosuchmodule' (modules: tensor profiling"
run bench
check "bench without a module fails" [ "$(rc)" = 1 ]
check "bench usage" err_has "usage: tito bench <module>"
check "nothing installed when all packages are present" [ ! -f "$STUB_STATE/apt.log" ]

# --- installing missing packages as root ---
reset_state
printf 'fortunes\ndataset-fashion-mnist\n' >"$STUB_STATE/missing"
run bench nosuchmodule
check "install as root: announces the packages" out_has "installing missing Debian packages: dataset-fashion-mnist fortunes"
check "install as root: apt-get update once" [ "$(grep -c 'apt-get update' "$STUB_STATE/apt.log")" = 1 ]
check "install as root: installs exactly the missing ones" \
  grep -qx "apt-get install -y -q dataset-fashion-mnist fortunes" "$STUB_STATE/apt.log"
check "install as root: then runs the command" err_has "unknown module 'nosuchmodule'"

# --- not root, no sudo: a clear message and exit 1, nothing run ---
reset_state
echo fortunes >"$STUB_STATE/missing"
echo 1000 >"$STUB_STATE/uid"
run test tensor
check "no root, no sudo: exit 1" [ "$(rc)" = 1 ]
check "no root, no sudo: names the package" err_has "these Debian packages are missing: fortunes"
check "no root, no sudo: says how" err_has "sudo apt-get install -y fortunes"
check "no root, no sudo: apt-get not run" [ ! -f "$STUB_STATE/apt.log" ]
check "no root, no sudo: bazel not run" [ ! -f "$STUB_STATE/bazel.log" ]

# --- not root, passwordless sudo ---
reset_state
echo fortunes >"$STUB_STATE/missing"
echo 1000 >"$STUB_STATE/uid"
touch "$STUB_STATE/sudo_ok"
run bench nosuchmodule
check "sudo: apt-get runs through sudo" grep -q "install -y -q fortunes" "$STUB_STATE/sudo.log"
check "sudo: package installed" [ ! -s "$STUB_STATE/missing" ]

# --- apt-get failing ---
reset_state
echo fortunes >"$STUB_STATE/missing"
touch "$STUB_STATE/apt_fails"
run test tensor
check "apt-get failure: exit 1" [ "$(rc)" = 1 ]
check "apt-get failure: message" err_has "apt-get could not install: fortunes"

# --- doctor reports, installs nothing ---
reset_state
echo libxnnpack-dev >"$STUB_STATE/missing"
run doctor
check "doctor exits 0" [ "$(rc)" = 0 ]
check "doctor shows versions" out_has "bazel-bootstrap .*1.0-stub"
check "doctor shows missing packages" out_has "libxnnpack-dev .*MISSING"
check "doctor lists SIMD features" out_has "SIMD features:"
check "doctor installs nothing" [ ! -f "$STUB_STATE/apt.log" ]

# --- test: runs bazel on the module and ends with a plain summary line ---
reset_state
printf '//tensor:a_test    PASSED in 0.1s\n//tensor:b_test    (cached) PASSED in 0.2s\n' >"$STUB_STATE/bazel_out"
run test tensor quantization
check "test: exit 0 when all pass" [ "$(rc)" = 0 ]
check "test: bazel gets the module patterns" grep -q "bazel test //tensor/... //quantization/..." "$STUB_STATE/bazel.log"
check "test: summary line" out_has "^tests: 2 passed, 0 failed$"
reset_state
printf '//tensor:a_test    PASSED in 0.1s\n//tensor:b_test    FAILED in 0.2s\n' >"$STUB_STATE/bazel_out"
echo 3 >"$STUB_STATE/bazel_rc"
run test tensor
check "test: exit 1 when one fails" [ "$(rc)" = 1 ]
check "test: failures counted" out_has "^tests: 1 passed, 1 failed$"
reset_state
printf 'ERROR: /x/BUILD:3:1: Compiling x.cc failed\n' >"$STUB_STATE/bazel_out"
echo 1 >"$STUB_STATE/bazel_rc"
run test tensor
check "test: a build failure is a failure" [ "$(rc)" = 1 ]
check "test: a build failure is counted" out_has "^tests: 0 passed, 1 failed$"

rm -rf "$WORK"
echo "tito_test: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
