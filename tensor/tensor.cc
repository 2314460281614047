#include "tensor/tensor.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tensor/autograd.h"
#include "tensor/check.h"

namespace tt::tensor {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

Shape ContiguousStrides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

// --- Parameter version ----------------------------------------------------------------

namespace {
std::atomic<uint64_t> g_parameter_version{0};
}  // namespace

uint64_t ParameterVersion() { return g_parameter_version.load(std::memory_order_acquire); }
void NoteParametersChanged() { g_parameter_version.fetch_add(1, std::memory_order_acq_rel); }

// --- Storage: the one allocator ----------------------------------------------------

namespace {
constexpr size_t kAlignment = 64;  // a cache line, and one AVX-512 register

size_t AllocBytes(int64_t n) {
  size_t bytes = static_cast<size_t>(n) * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;  // aligned_alloc's rule
  return bytes == 0 ? kAlignment : bytes;
}

// Freed large blocks by exact size (see kCachedBlockMinBytes in tensor.h).
struct BlockCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached_bytes = 0;
};

BlockCache& Cache() {
  static BlockCache* cache = new BlockCache;  // never destroyed: frees may come late
  return *cache;
}

void* AllocateBlock(size_t bytes) {
  if (bytes >= kCachedBlockMinBytes) {
    BlockCache& c = Cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(bytes);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached_bytes -= bytes;
      return p;
    }
  }
  return std::aligned_alloc(kAlignment, bytes);
}

void FreeBlock(void* p, size_t bytes) {
  if (bytes >= kCachedBlockMinBytes) {
    BlockCache& c = Cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.cached_bytes + bytes <= kAllocatorCacheMaxBytes) {
      c.free_blocks[bytes].push_back(p);
      c.cached_bytes += bytes;
      return;
    }
  }
  std::free(p);
}
}  // namespace

size_t AllocatorCachedBytes() {
  BlockCache& c = Cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached_bytes;
}

void ReleaseAllocatorCache() {
  BlockCache& c = Cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [bytes, blocks] : c.free_blocks) {
    for (void* p : blocks) std::free(p);
  }
  c.free_blocks.clear();
  c.cached_bytes = 0;
}

Storage::Storage(int64_t num_elements) : size_(num_elements) {
  TT_CHECK(num_elements >= 0, "Storage: negative size ", num_elements);
  const size_t bytes = AllocBytes(num_elements);
  data_ = static_cast<float*>(AllocateBlock(bytes));
  TT_CHECK(data_ != nullptr, "Storage: out of memory allocating ", bytes, " bytes");
  if (__builtin_expect(internal::Instrumented(), 0)) {
    internal::NotifyAlloc(data_, static_cast<size_t>(num_elements) * sizeof(float));
  }
}

Storage::~Storage() {
  if (__builtin_expect(internal::Instrumented(), 0)) {
    internal::NotifyFree(data_, static_cast<size_t>(size_) * sizeof(float));
  }
  FreeBlock(data_, AllocBytes(size_));
}

// --- Rng ------------------------------------------------------------------------------

float Rng::Uniform() {
  // 24 random bits -> a float in [0, 1) with every value equally likely.
  return static_cast<float>(engine_() >> 40) * (1.0f / 16777216.0f);
}

float Rng::Uniform(float lo, float hi) { return lo + (hi - lo) * Uniform(); }

float Rng::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // Box-Muller on (0, 1] x [0, 1).
  double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * M_PI * u2;
  spare_ = static_cast<float>(r * std::sin(theta));
  has_spare_ = true;
  return static_cast<float>(r * std::cos(theta));
}

int64_t Rng::UniformInt(int64_t n) {
  TT_CHECK(n > 0, "Rng::UniformInt: n must be positive, got ", n);
  // Rejection sampling: no modulo bias.
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return static_cast<int64_t>(x % un);
}

// --- Construction -----------------------------------------------------------------

Tensor Tensor::Empty(const Shape& shape) {
  for (int64_t d : shape) {
    TT_CHECK(d >= 0, "Tensor::Empty: negative dimension in shape ", ShapeToString(shape));
  }
  auto impl = std::make_shared<internal::TensorImpl>();
  impl->storage = std::make_shared<Storage>(NumElements(shape));
  impl->shape = shape;
  return FromImpl(std::move(impl));
}

Tensor Tensor::Zeros(const Shape& shape) { return Full(shape, 0.0f); }
Tensor Tensor::Ones(const Shape& shape) { return Full(shape, 1.0f); }

Tensor Tensor::Full(const Shape& shape, float value) {
  // Not Fill(): a new tensor is not an in-place update, so ParameterVersion stays put
  // (temporaries made with Zeros would otherwise invalidate every weight cache).
  Tensor t = Empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = value;
  return t;
}

Tensor Tensor::Scalar(float value) { return Full({}, value); }

Tensor Tensor::FromVector(const std::vector<float>& values, const Shape& shape) {
  TT_CHECK(static_cast<int64_t>(values.size()) == NumElements(shape),
           "Tensor::FromVector: ", values.size(), " values do not fill shape ",
           ShapeToString(shape));
  Tensor t = Empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::Arange(float start, float end, float step) {
  TT_CHECK(step != 0.0f, "Tensor::Arange: step is zero");
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  Tensor t = Empty({n});
  float* p = t.data();
  for (int64_t i = 0; i < n; ++i) p[i] = start + step * static_cast<float>(i);
  return t;
}

Tensor Tensor::Randn(const Shape& shape, Rng& rng, float mean, float stddev) {
  Tensor t = Empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = mean + stddev * rng.Normal();
  return t;
}

Tensor Tensor::Uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  Tensor t = Empty(shape);
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = rng.Uniform(lo, hi);
  return t;
}

// --- Access ---------------------------------------------------------------------

const Shape& Tensor::shape() const {
  TT_CHECK(defined(), "Tensor::shape: undefined tensor");
  return impl_->shape;
}

int64_t Tensor::size(int64_t axis) const {
  int64_t d = dim();
  int64_t a = axis < 0 ? axis + d : axis;
  TT_CHECK(a >= 0 && a < d, "Tensor::size: axis ", axis, " out of range for shape ",
           ShapeToString(shape()));
  return impl_->shape[a];
}

float* Tensor::data() {
  TT_CHECK(defined(), "Tensor::data: undefined tensor");
  return impl_->storage->data() + impl_->offset;
}

const float* Tensor::data() const {
  TT_CHECK(defined(), "Tensor::data: undefined tensor");
  return impl_->storage->data() + impl_->offset;
}

float Tensor::item() const {
  TT_CHECK(numel() == 1, "Tensor::item: tensor of shape ", ShapeToString(shape()),
           " has ", numel(), " elements, not 1");
  return data()[0];
}

int64_t Tensor::FlatIndex(std::initializer_list<int64_t> index) const {
  const Shape& s = shape();
  TT_CHECK(static_cast<int64_t>(index.size()) == dim(), "Tensor::at: ", index.size(),
           " indices for shape ", ShapeToString(s));
  int64_t flat = 0, axis = 0;
  for (int64_t i : index) {
    TT_CHECK(i >= 0 && i < s[axis], "Tensor::at: index ", i, " out of range on axis ", axis,
             " of shape ", ShapeToString(s));
    flat = flat * s[axis] + i;
    ++axis;
  }
  return flat;
}

float Tensor::at(std::initializer_list<int64_t> index) const { return data()[FlatIndex(index)]; }
float& Tensor::at(std::initializer_list<int64_t> index) { return data()[FlatIndex(index)]; }

std::vector<float> Tensor::ToVector() const {
  const float* p = data();
  return std::vector<float>(p, p + numel());
}

namespace {
void PrintRecursive(std::ostringstream& out, const float* p, const Shape& shape,
                    const Shape& strides, size_t axis, int64_t max_per_axis) {
  if (axis == shape.size()) {
    out << absl::StrFormat("%.4g", *p);
    return;
  }
  out << "[";
  int64_t n = shape[axis];
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_per_axis && i == max_per_axis / 2) {
      out << "..., ";
      i = n - max_per_axis / 2;
    }
    PrintRecursive(out, p + i * strides[axis], shape, strides, axis + 1, max_per_axis);
    if (i + 1 < n) out << ", ";
  }
  out << "]";
}
}  // namespace

std::string Tensor::ToString(int64_t max_per_axis) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream out;
  out << "Tensor(shape=" << ShapeToString(shape()) << ", ";
  PrintRecursive(out, data(), shape(), strides(), 0, std::max<int64_t>(2, max_per_axis));
  if (requires_grad()) out << ", requires_grad";
  out << ")";
  return out.str();
}

// --- Copies and views -----------------------------------------------------------

Tensor Tensor::Clone() const {
  Tensor t = Empty(shape());
  if (numel() > 0) std::memcpy(t.data(), data(), numel() * sizeof(float));
  return t;
}

Tensor Tensor::Detach() const {
  TT_CHECK(defined(), "Tensor::Detach: undefined tensor");
  auto impl = std::make_shared<internal::TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  return FromImpl(std::move(impl));
}

Tensor Tensor::View(const Shape& new_shape, int64_t offset) const {
  TT_CHECK(defined(), "Tensor::View: undefined tensor");
  TT_CHECK(offset >= 0 && impl_->offset + offset + NumElements(new_shape) <=
                              impl_->storage->size(),
           "Tensor::View: shape ", ShapeToString(new_shape), " at offset ", offset,
           " does not fit in storage of ", impl_->storage->size(), " elements");
  auto impl = std::make_shared<internal::TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset + offset;
  impl->shape = new_shape;
  return FromImpl(std::move(impl));
}

bool Tensor::SharesStorageWith(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void Tensor::Fill(float value) {
  float* p = data();
  for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = value;
  NoteParametersChanged();
}

void Tensor::CopyFrom(const Tensor& other) {
  TT_CHECK(numel() == other.numel(), "Tensor::CopyFrom: ", ShapeToString(other.shape()),
           " into ", ShapeToString(shape()));
  if (numel() > 0) std::memmove(data(), other.data(), numel() * sizeof(float));
  NoteParametersChanged();
}

// --- Autograd accessors ---------------------------------------------------------

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  TT_CHECK(defined(), "Tensor::set_requires_grad: undefined tensor");
  TT_CHECK(impl_->grad_fn == nullptr,
           "Tensor::set_requires_grad: only leaf tensors (not op results) can be marked");
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const {
  TT_CHECK(defined(), "Tensor::grad: undefined tensor");
  return impl_->grad ? FromImpl(impl_->grad) : Tensor();
}

void Tensor::ZeroGrad() {
  if (defined()) impl_->grad.reset();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> kNone;
  return defined() ? impl_->grad_fn : kNone;
}

}  // namespace tt::tensor
