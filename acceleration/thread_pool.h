// A small fork-join thread pool for the module's kernels: the calling thread works too,
// idle workers sleep, and nobody spins for long.
//
//   tt::accel::ThreadPool& pool = tt::accel::DefaultThreadPool();
//   pool.ParallelFor(rows, [&](int64_t begin, int64_t end) {
//     for (int64_t r = begin; r < end; ++r) ProcessRow(r);
//   });  // returns when every row is done
//
// Why not spin-wait like many BLAS pools: on a 2-core machine shared with another busy
// process, a thread that spins while waiting for a descheduled partner burns the very
// core that partner needs; library GEMMs were measured 100-1000x slower that way. Here a
// waiting thread spins for at most kSpinMicros (enough to catch back-to-back calls from
// one GEMM without a sleep/wake round trip, far below a scheduler time slice), then
// blocks on a condition variable and gives its core away. Work is handed out in chunks
// claimed one at a time, large ones first and single indices last ("guided"
// scheduling), so a thread that is late (still asleep, or preempted) simply gets fewer
// chunks; the caller may end up doing all of them, never waiting for a worker that has
// not started, and at the end nobody waits long for somebody else's last chunk.
//
// Rules:
//   - fn must not throw (the course builds without exceptions) and must be safe to run
//     on several threads at once on disjoint ranges.
//   - Nested calls (ParallelFor from inside fn, on any pool) run the whole range inline
//     on the calling thread: no deadlock, no oversubscription.
//   - Concurrent calls from different threads are allowed: while one call owns the
//     workers, another caller runs its range inline (serially) instead of waiting.
//   - The destructor joins the workers; no call may be in progress.
#ifndef TT_ACCELERATION_THREAD_POOL_H_
#define TT_ACCELERATION_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tt::accel {

class ThreadPool {
 public:
  // How long a waiting thread spins before it blocks (a worker waiting for work, or the
  // caller waiting for the last chunks). 30 us: one GEMM issues its parallel loops a few
  // microseconds to a few milliseconds apart, and a futex sleep + wake costs tens of
  // microseconds on a VM; a time slice is ~3 ms, so spinning can never hold a core for a
  // meaningful part of one.
  static constexpr int64_t kSpinMicros = 30;

  // A pool of `num_threads` threads in total: the caller of ParallelFor plus
  // num_threads - 1 workers started here. num_threads >= 1 (TT_CHECK).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that take part in a ParallelFor, the caller included.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(begin, end) over contiguous, disjoint, non-empty ranges covering [0, n)
  // exactly once, on up to size() threads, and returns when all are done. Each chunk
  // claimed is max(1, remaining / (2 * size())) indices, so sizes shrink geometrically
  // (about 2 * size() * ln(n) chunks in all); one thread may run several chunks, in any
  // order. n <= 0: nothing runs. With size() == 1, or nested or concurrent (see the
  // rules above), fn(0, n) runs on the calling thread.
  void ParallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  void WorkerLoop();
  // Claims and runs chunks of the current job until none is left. Returns with mu_
  // unlocked; `lock` must hold mu_ on entry.
  void RunChunks(std::unique_lock<std::mutex>& lock);

  std::vector<std::thread> workers_;

  std::mutex mu_;
  std::condition_variable work_cv_;  // workers sleep here
  std::condition_variable done_cv_;  // the caller sleeps here for the last chunks
  // The current job, guarded by mu_ (pending_ is also read without it while spinning).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t next_ = 0;                 // the first index not claimed yet
  std::atomic<int64_t> pending_{0};  // indices not finished yet
  bool busy_ = false;                // a ParallelFor owns the workers
  bool stop_ = false;
  int sleepers_ = 0;                     // workers blocked on work_cv_
  std::atomic<uint64_t> generation_{0};  // bumped for every job (and for stop)
};

// The process-wide pool: TT_NUM_THREADS threads if that environment variable holds a
// positive integer, else std::thread::hardware_concurrency() (at least 1). Created on
// first use, never destroyed (workers sleep when idle).
ThreadPool& DefaultThreadPool();

}  // namespace tt::accel

#endif  // TT_ACCELERATION_THREAD_POOL_H_
