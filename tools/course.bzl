"""The course order and the build macros every package uses.

MODULES is the single source of truth for the module order: a module may depend on the
modules before it and on none after it. Every package's API targets take their
`visibility` from module_api(), so an upward dependency is a Bazel visibility error.
Adding a module or reordering the course is a change to the MODULES line alone
(tools/tito check-order reads the same line).
"""

MODULES = ["tensor", "profiling", "acceleration", "quantization", "compression", "caching", "benchmarking", "capstone"]

# Compiler flags for the course's own code (the toolchain-wide ones are in .bazelrc).
COPTS = [
    "-Werror",
    "-Wno-sign-compare",
]

# Real data from Debian packages (see WORKSPACE).
# The flags of code compiled for one instruction set: only the per-ISA kernel libraries
# use them, and their code runs only behind a run-time check (acceleration's
# IsaSupported / ActiveIsa). AVX2_COPTS is the kAvx2Fma level, AVX512_COPTS the kAvx512
# level (F, BW, VL, DQ, with FMA). GCC 12's avx512fintrin.h implements
# _mm512_undefined_ps() as `__m512 __Y = __Y;`, which -W(maybe-)uninitialized flags
# wherever max/min/shuffles get inlined, hence the two -Wno flags.
AVX2_COPTS = ["-mavx2", "-mfma"]
AVX512_COPTS = [
    "-Wno-maybe-uninitialized",
    "-Wno-uninitialized",
    "-mavx512f",
    "-mavx512bw",
    "-mavx512vl",
    "-mavx512dq",
    "-mfma",
]

FASHION_MNIST = "@fashion_mnist//:fashion_mnist"
FORTUNES = "@fortunes//:text"

def current_module():
    """The module that owns the package being loaded (its top-level folder)."""
    return native.package_name().split("/")[0]

def module_visibility(module):
    """Who may depend on `module`'s API: itself, the modules after it, and tools."""
    if module not in MODULES:
        fail("'%s' is not a course module; MODULES in //tools:course.bzl lists them" % module)
    later = MODULES[MODULES.index(module):]
    return ["//%s:__subpackages__" % m for m in later] + ["//tools:__subpackages__"]

def module_api():
    """Visibility for an API target of the current package's module."""
    return module_visibility(current_module())

def tt_cc_library(name, copts = [], **kwargs):
    """A cc_library with the course copts. Private unless given visibility = module_api()."""
    native.cc_library(
        name = name,
        copts = COPTS + copts,
        **kwargs
    )

def tt_cc_binary(name, copts = [], **kwargs):
    native.cc_binary(
        name = name,
        copts = COPTS + copts,
        **kwargs
    )

def tt_cc_test(name, srcs = None, deps = [], size = "small", copts = [], **kwargs):
    """A GoogleTest test: `name`.cc by default, linked with gtest/gmock main."""
    native.cc_test(
        name = name,
        srcs = srcs if srcs != None else [name + ".cc"],
        deps = deps + ["@system//:gtest_main"],
        size = size,
        copts = COPTS + copts,
        **kwargs
    )

def tt_cc_benchmark(name, srcs = None, deps = [], copts = [], tags = [], **kwargs):
    """A Google Benchmark binary `name`, plus `name`_test that runs every benchmark
    once (a minimal run) so benchmarks keep building and working under `bazel test`."""
    srcs = srcs if srcs != None else [name + ".cc"]
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + ["@system//:benchmark_main"],
        copts = COPTS + copts,
        tags = tags,
        **kwargs
    )
    native.sh_test(
        name = name + "_test",
        srcs = ["//tools:run_benchmark_once.sh"],
        args = ["$(location :%s)" % name],
        data = [":" + name],
        size = "small",
        tags = tags + ["benchmark"],
    )
