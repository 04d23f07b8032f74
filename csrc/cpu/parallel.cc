#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <pthread.h>
#include <mutex>
#include <thread>
#include <vector>

namespace spatial_ops {

int64_t parallel_pieces(int64_t total, int64_t cost_per_unit, int64_t threads) {
  constexpr int64_t kMinCyclesPerPiece = 100000;
  const int64_t by_cost = std::max<int64_t>(1, total * std::max<int64_t>(cost_per_unit, 1) / kMinCyclesPerPiece);
  return std::max<int64_t>(1, std::min({total, by_cost, 4 * std::max<int64_t>(threads, 1)}));
}

void run_in_pieces(int64_t total, int64_t cost_per_unit, int64_t threads, const WorkFn& work,
                   const std::function<void(std::function<void()>)>& schedule) {
  if (total <= 0) return;
  const int64_t pieces = parallel_pieces(total, cost_per_unit, threads);
  if (pieces == 1) return work(0, total);
  // Shared with the helpers, which may outlive this call.
  struct State {
    std::atomic<int64_t> next{0};
    int64_t pieces = 0, total = 0;
    const WorkFn* work = nullptr;
    std::mutex mutex;
    std::condition_variable done;
    int64_t finished = 0;
    void run() {
      for (int64_t p; (p = next.fetch_add(1)) < pieces;) {
        (*work)(p* total / pieces, (p + 1) * total / pieces);
        std::lock_guard<std::mutex> lock(mutex);
        if (++finished == pieces) done.notify_all();
      }
    }
  };
  auto state = std::make_shared<State>();
  state->pieces = pieces;
  state->total = total;
  state->work = &work;
  for (int64_t t = 0; t + 1 < std::min(threads, pieces); ++t) schedule([state] { state->run(); });
  state->run();
  std::unique_lock<std::mutex> lock(state->mutex);
  state->done.wait(lock, [&] { return state->finished == state->pieces; });
}

namespace {

// Helper threads that take tasks from one queue. Threads are started when a
// task finds none idle, up to the most any call has asked for; they live as
// long as the process.
class SharedPool {
 public:
  void schedule(std::function<void()> task, int64_t most_threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    if (idle_ >= static_cast<int64_t>(tasks_.size()) || started_ >= most_threads) {
      wake_.notify_one();
      return;
    }
    ++started_;
    std::thread([this] { serve(); }).detach();
  }

 private:
  void serve() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return !tasks_.empty(); });
      --idle_;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  int64_t started_ = 0, idle_ = 0;
};

// The process's pool. Threads do not survive fork, and the parent's mutex
// may be copied locked: a child drops the parent's pool (leaked, never
// touched) and makes its own on first use.
std::atomic<SharedPool*> shared_pool{nullptr};
std::once_flag fork_handler_installed;

SharedPool& the_shared_pool() {
  std::call_once(fork_handler_installed, [] { pthread_atfork(nullptr, nullptr, [] { shared_pool.store(nullptr); }); });
  SharedPool* pool = shared_pool.load();
  if (pool == nullptr) {
    SharedPool* fresh = new SharedPool();
    if (shared_pool.compare_exchange_strong(pool, fresh)) {
      pool = fresh;
    } else {
      delete fresh;  // another thread made it first: `pool` now holds that one
    }
  }
  return *pool;
}

}  // namespace

ParallelFor parallel_for_on_shared_pool(int64_t threads) {
  return [threads](int64_t total, int64_t cost_per_unit, const WorkFn& work) {
    SharedPool& pool = the_shared_pool();
    run_in_pieces(total, cost_per_unit, threads, work,
                  [&pool, threads](std::function<void()> task) { pool.schedule(std::move(task), threads - 1); });
  };
}

}  // namespace spatial_ops
