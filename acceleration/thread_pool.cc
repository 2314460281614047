#include "acceleration/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "tensor/check.h"

namespace tt::accel {
namespace {

// Whether this thread is running some pool's fn now: nested calls then run inline.
thread_local bool t_in_parallel_for = false;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();  // tells the core (and a hyperthread sibling) we are spinning
#endif
}

// Spins until pred() or kSpinMicros have passed; returns pred()'s last value.
template <typename Pred>
bool SpinFor(Pred pred) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::microseconds(ThreadPool::kSpinMicros);
  while (!pred()) {
    CpuRelax();
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
  return true;
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  TT_CHECK(num_threads >= 1, "ThreadPool: num_threads must be >= 1, got ", num_threads);
  workers_.reserve(num_threads - 1);
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TT_CHECK(!busy_, "ThreadPool destroyed during a ParallelFor");
    stop_ = true;
    generation_.fetch_add(1);
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunChunks(std::unique_lock<std::mutex>& lock) {
  while (next_ < n_) {
    // Guided: a share of what is left, so the last chunks are small and whoever finishes
    // early never waits long for the others.
    const int64_t begin = next_;
    const int64_t end = begin + std::max<int64_t>(1, (n_ - begin) / (2 * size()));
    next_ = end;
    const auto* fn = fn_;
    lock.unlock();
    t_in_parallel_for = true;
    (*fn)(begin, end);
    t_in_parallel_for = false;
    if (pending_.fetch_sub(end - begin) == end - begin) {
      // The last chunk: wake the caller if it sleeps. Taking mu_ orders this after the
      // caller's check of pending_ (no lost wake-up).
      lock.lock();
      done_cv_.notify_all();
      lock.unlock();
    }
    lock.lock();
  }
  lock.unlock();
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  while (true) {
    // A new job usually follows soon after the last one within a GEMM: spin briefly,
    // then sleep.
    SpinFor([&] { return generation_.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lock(mu_);
    if (generation_.load() == seen && !stop_) {
      ++sleepers_;
      work_cv_.wait(lock, [&] { return generation_.load() != seen || stop_; });
      --sleepers_;
    }
    if (stop_) return;
    seen = generation_.load();
    // The job may already be finished by the others (then there is no index left and
    // RunChunks returns at once); fn_ is valid while an index is unclaimed.
    RunChunks(lock);
  }
}

void ThreadPool::ParallelFor(int64_t n,
                             const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1 || t_in_parallel_for) {
    fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (busy_) {  // another thread's call owns the workers: do not wait for it
    lock.unlock();
    fn(0, n);
    return;
  }
  busy_ = true;
  fn_ = &fn;
  n_ = n;
  next_ = 0;
  pending_.store(n);
  generation_.fetch_add(1, std::memory_order_release);
  const bool wake = sleepers_ > 0;
  lock.unlock();
  if (wake) work_cv_.notify_all();  // spinning workers see generation_ without it

  lock.lock();
  RunChunks(lock);
  // All chunks are claimed; wait for the ones still running elsewhere (briefly spinning,
  // since they are usually about to finish, then sleeping).
  if (!SpinFor([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    lock.lock();
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    lock.unlock();
  }
  lock.lock();
  busy_ = false;
  fn_ = nullptr;
}

ThreadPool& DefaultThreadPool() {
  static ThreadPool* pool = [] {
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("TT_NUM_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v > 0 && v <= 1024) threads = static_cast<int>(v);
    }
    return new ThreadPool(std::max(threads, 1));
  }();
  return *pool;
}

}  // namespace tt::accel
