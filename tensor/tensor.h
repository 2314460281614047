// Tensor: an N-d float32 array with reverse-mode autograd.
//
// A Tensor is a cheap handle (a shared pointer) to its data: copying a Tensor shares the
// data, Clone() copies it. Storage is row-major and always contiguous; a tensor is a
// (storage, offset, shape) triple. Views are made only where they keep contiguity:
// Reshape and slicing along the first axis share storage; Transpose/Permute copy
// (documented in README.md: every kernel can then assume contiguous rows).
//
//   tt::tensor::Rng rng(42);
//   Tensor w = Tensor::Randn({784, 10}, rng).set_requires_grad(true);
//   Tensor x = Tensor::Zeros({32, 784});
//   Tensor loss = Mean(MatMul(x, w));     // ops live in ops.h
//   loss.Backward();                       // w.grad() now holds dloss/dw
//
// Storage comes from one allocator that reports every allocation and free through the
// instrumentation seam (instrument.h), so the memory profiler sees all tensor memory.
#ifndef TT_TENSOR_TENSOR_H_
#define TT_TENSOR_TENSOR_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tensor/instrument.h"

namespace tt::tensor {

// Shape = std::vector<int64_t> (declared in instrument.h).
int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "(2, 3)"
// Row-major strides, in elements.
Shape ContiguousStrides(const Shape& shape);

// A process-wide counter of in-place updates to tensors' values: Fill, CopyFrom and every
// optimizer step increment it. A backend that caches something derived from weights
// (packed GEMM panels, an XNNPACK operator) keys the cache on it, so a training step
// invalidates the cache and inference reuses it. Code that writes a tensor through its
// raw data() pointer and wants such caches to notice calls NoteParametersChanged().
uint64_t ParameterVersion();
void NoteParametersChanged();

// The allocator keeps freed blocks of at least kCachedBlockMinBytes, by exact size, up
// to kAllocatorCacheMaxBytes in all, and hands them out again: a training loop
// allocates the same shapes every step, and a block the OS has to map and zero anew
// (glibc maps every allocation over 128 KiB) costs a page fault per 4 KiB touched.
inline constexpr size_t kCachedBlockMinBytes = size_t{64} << 10;
inline constexpr size_t kAllocatorCacheMaxBytes = size_t{256} << 20;
// Bytes held in the cache now (not in use by any tensor).
size_t AllocatorCachedBytes();
// Returns every cached block to the system.
void ReleaseAllocatorCache();

// A float buffer from the course allocator: 64-byte aligned, reported to observers.
class Storage {
 public:
  explicit Storage(int64_t num_elements);  // contents uninitialized
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  float* data_;
  int64_t size_;
};

// A seeded random generator. Its sequences are the same on every platform (the
// distributions are written out here, not taken from <random>, whose distributions
// differ between standard libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t NextU64() { return engine_(); }
  float Uniform();                  // [0, 1)
  float Uniform(float lo, float hi);
  float Normal();                   // mean 0, stddev 1 (Box-Muller)
  int64_t UniformInt(int64_t n);    // [0, n)

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

struct Node;
class Tensor;

// Tensors with names, e.g. a model's parameters ("fc1.weight", ...), in a fixed order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

namespace internal {
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;
  Shape shape;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves only)
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor, if recorded
};
}  // namespace internal

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() is false)

  // --- Construction ---
  static Tensor Empty(const Shape& shape);  // uninitialized
  static Tensor Zeros(const Shape& shape);
  static Tensor Ones(const Shape& shape);
  static Tensor Full(const Shape& shape, float value);
  static Tensor Scalar(float value);  // shape ()
  static Tensor FromVector(const std::vector<float>& values, const Shape& shape);
  static Tensor Arange(float start, float end, float step = 1.0f);  // 1-D
  static Tensor Randn(const Shape& shape, Rng& rng, float mean = 0.0f, float stddev = 1.0f);
  static Tensor Uniform(const Shape& shape, Rng& rng, float lo, float hi);

  // --- Shape and data ---
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return NumElements(shape()); }
  Shape strides() const { return ContiguousStrides(shape()); }
  float* data();
  const float* data() const;
  float item() const;  // the value of a one-element tensor
  float at(std::initializer_list<int64_t> index) const;
  float& at(std::initializer_list<int64_t> index);
  std::vector<float> ToVector() const;
  std::string ToString(int64_t max_per_axis = 6) const;

  // --- Copies and views ---
  Tensor Clone() const;   // a copy of the data, with no autograd history
  Tensor Detach() const;  // the same data, with no autograd history
  // True when both handles see the same memory.
  bool SharesStorageWith(const Tensor& other) const;

  // --- In-place updates (not recorded by autograd: optimizers, initializers) ---
  void Fill(float value);
  void CopyFrom(const Tensor& other);  // same number of elements

  // --- Autograd ---
  bool requires_grad() const;
  // Marks a leaf tensor as a parameter whose gradient Backward() accumulates.
  Tensor& set_requires_grad(bool requires_grad);
  Tensor grad() const;   // undefined until a backward pass reaches this leaf
  void ZeroGrad();       // forgets the accumulated gradient
  void Backward() const; // this must be a one-element tensor
  const std::shared_ptr<Node>& grad_fn() const;

  // For ops and backends: the implementation object.
  internal::TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<internal::TensorImpl>& impl_ptr() const { return impl_; }
  static Tensor FromImpl(std::shared_ptr<internal::TensorImpl> impl) {
    Tensor t;
    t.impl_ = std::move(impl);
    return t;
  }
  // A view of this tensor's storage with another shape, starting `offset` elements in.
  Tensor View(const Shape& shape, int64_t offset = 0) const;

 private:
  int64_t FlatIndex(std::initializer_list<int64_t> index) const;
  std::shared_ptr<internal::TensorImpl> impl_;
};

}  // namespace tt::tensor

#endif  // TT_TENSOR_TENSOR_H_
