#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
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
        (*work)(p * total / pieces, (p + 1) * total / pieces);
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

ParallelFor parallel_for_on_new_threads(int64_t threads) {
  return [threads](int64_t total, int64_t cost_per_unit, const WorkFn& work) {
    std::vector<std::thread> helpers;
    run_in_pieces(total, cost_per_unit, threads, work,
                  [&helpers](std::function<void()> task) { helpers.emplace_back(std::move(task)); });
    for (std::thread& helper : helpers) helper.join();
  };
}

}  // namespace spatial_ops
