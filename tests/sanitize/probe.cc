// Deliberate errors, compiled with the sanitizers by scripts/sanitize.sh and
// called once each before the real runs: each must be reported, which proves
// the sanitizers are live in exactly the environment the tests run in.
#include <climits>
#include <vector>

extern "C" int heap_overflow(int past_end) {
  std::vector<int> values(4, 0);
  return values.data()[values.size() + past_end];
}

extern "C" int signed_overflow(int below_max) {
  const int large = INT_MAX - below_max;
  return large + 1;
}
