// Registers the acceleration backends when //acceleration is linked into a program, so
// `--backend=auto` (tensor::FindBackend) finds them without any code in main().
#include "acceleration/backends.h"

namespace tt::accel {
namespace {
const bool kRegistered = (RegisterAccelerationBackends(), true);
}  // namespace
}  // namespace tt::accel
