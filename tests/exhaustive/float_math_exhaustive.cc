// Every float32 input through each function of core/float_math.h, in every
// CPU build this CPU runs, against glibc's double-precision libm: the largest
// error in float32 ulps and the inputs that reach it. Built and run by
// scripts/float_math_exhaustive.sh, which records the result in
// tests/float_math_bounds.json; tests/test_float_math.py holds every build
// to that record on the worst inputs found and a dense grid.
//
// The error of a result y for the exact value w (rounded to float: w32) is
// |y - w| / spacing(|w32|), spacing being the gap from |w32| to the next
// float up (2^-149 for subnormals): NumPy's np.spacing, which the tests use.
// Where w32 is Inf or NaN the result must be the same Inf or a NaN.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "cpu/spatial_dense_cpu.h"

namespace spatial_ops {
namespace {

struct Function {
  const char* name;
  FloatFunction id;
  double (*exact)(double);
  bool (*in_domain)(float);
};

bool everywhere(float) { return true; }
// min(x, 0) keeping NaN (std::fmin drops it).
double at_most_zero(double x) { return x > 0.0 ? 0.0 : x; }
// log1p_unit's only use is log1p(exp(-|z|)) (softplus): [0, 1], and NaN.
bool unit_interval(float x) { return std::isnan(x) || (x >= 0.0f && x <= 1.0f); }

const Function kFunctions[] = {
    {"exp", FloatFunction::kExp, [](double x) { return std::exp(x); }, everywhere},
    {"exp_nonpositive", FloatFunction::kExpNonpositive, [](double x) { return std::exp(at_most_zero(x)); }, everywhere},
    {"expm1", FloatFunction::kExpm1, [](double x) { return std::expm1(x); }, everywhere},
    {"expm1_nonpositive", FloatFunction::kExpm1Nonpositive, [](double x) { return std::expm1(at_most_zero(x)); },
     everywhere},
    {"log1p_unit", FloatFunction::kLog1pUnit, [](double x) { return std::log1p(x); }, unit_interval},
    {"tanh", FloatFunction::kTanh, [](double x) { return std::tanh(x); }, everywhere},
    {"erfc", FloatFunction::kErfc, [](double x) { return std::erfc(x); }, everywhere},
};

// How many of the worst inputs each build keeps (distinct inputs, largest
// errors first).
constexpr size_t kWorstKept = 8;

struct Worst {
  double ulps;
  float x;
};

struct Tally {
  std::vector<Worst> worst;  // sorted, largest first, at most kWorstKept
  uint64_t checked = 0;
  uint64_t special_mismatches = 0;
  float first_special_mismatch = 0.0f;

  void add(double ulps, float x) {
    if (worst.size() == kWorstKept && ulps <= worst.back().ulps) return;
    worst.push_back({ulps, x});
    std::sort(worst.begin(), worst.end(), [](const Worst& a, const Worst& b) { return a.ulps > b.ulps; });
    if (worst.size() > kWorstKept) worst.pop_back();
  }
  void merge(const Tally& other) {
    for (const Worst& w : other.worst) add(w.ulps, w.x);
    if (special_mismatches == 0 && other.special_mismatches > 0) {
      first_special_mismatch = other.first_special_mismatch;
    }
    checked += other.checked;
    special_mismatches += other.special_mismatches;
  }
};

double ulps_of(float got, double exact) {
  const float rounded = static_cast<float>(exact);
  const float magnitude = std::fabs(rounded);
  const double spacing =
      static_cast<double>(std::nextafter(magnitude, std::numeric_limits<float>::infinity())) - magnitude;
  return std::fabs(static_cast<double>(got) - exact) / spacing;
}

bool same_special(float got, float want) {
  if (std::isnan(want)) return std::isnan(got);
  return got == want;  // the same infinity
}

// Inputs [first, first + count) of the 2^32 bit patterns, in chunks through
// the kernels' loop, one tally per build.
void check_range(const Function& f, const std::vector<std::string>& isas, uint64_t first, uint64_t count,
                 std::vector<Tally>* tallies) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<float> x(kChunk), y(kChunk);
  std::vector<double> exact(kChunk);
  for (uint64_t start = first; start < first + count; start += kChunk) {
    size_t n = 0;
    for (uint64_t bits = start; bits < std::min(start + kChunk, first + count); ++bits) {
      const uint32_t pattern = static_cast<uint32_t>(bits);
      float value;
      std::memcpy(&value, &pattern, 4);
      if (!f.in_domain(value)) continue;
      x[n] = value;
      exact[n] = f.exact(value);
      ++n;
    }
    for (size_t b = 0; b < isas.size(); ++b) {
      float_math_cpu(isas[b], f.id, x.data(), y.data(), static_cast<int64_t>(n));
      Tally& tally = (*tallies)[b];
      tally.checked += n;
      for (size_t i = 0; i < n; ++i) {
        const float want = static_cast<float>(exact[i]);
        if (std::isfinite(want)) {
          const double ulps = std::isfinite(y[i]) ? ulps_of(y[i], exact[i]) : std::numeric_limits<double>::infinity();
          if (tally.worst.size() < kWorstKept || ulps > tally.worst.back().ulps) tally.add(ulps, x[i]);
        } else if (!same_special(y[i], want)) {
          if (tally.special_mismatches++ == 0) tally.first_special_mismatch = x[i];
        }
      }
    }
  }
}

// JSON numbers: a float input as the shortest decimal that reads back to it.
std::string float_text(float x) {
  if (std::isnan(x)) return "\"nan\"";
  if (std::isinf(x)) return x > 0 ? "\"inf\"" : "\"-inf\"";
  char text[32];
  for (int digits = 6; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (std::strtof(text, nullptr) == x) break;
  }
  return text;
}

}  // namespace
}  // namespace spatial_ops

int main(int argc, char** argv) {
  using namespace spatial_ops;
  // Optional: the functions to check (default all), for a quick rerun of one.
  std::vector<std::string> only(argv + 1, argv + argc);
  const std::vector<std::string> isas = supported_cpu_isas();
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::printf("{\n");
  bool first_function = true;
  int status = 0;
  for (const Function& f : kFunctions) {
    if (!only.empty() && std::find(only.begin(), only.end(), f.name) == only.end()) continue;
    std::vector<std::vector<Tally>> per_thread(threads, std::vector<Tally>(isas.size()));
    std::vector<std::thread> workers;
    const uint64_t total = uint64_t(1) << 32, share = total / threads;
    for (unsigned t = 0; t < threads; ++t) {
      const uint64_t begin = t * share, count = t + 1 == threads ? total - begin : share;
      workers.emplace_back(check_range, std::cref(f), std::cref(isas), begin, count, &per_thread[t]);
    }
    for (std::thread& worker : workers) worker.join();
    std::printf("%s  \"%s\": {", first_function ? "" : ",\n", f.name);
    first_function = false;
    for (size_t b = 0; b < isas.size(); ++b) {
      Tally tally;
      for (const auto& tallies : per_thread) tally.merge(tallies[b]);
      const double max_ulps = tally.worst.empty() ? 0.0 : tally.worst.front().ulps;
      // 1e999 reads back as infinity in JSON parsers; %f would print "inf".
      std::printf("%s\n    \"%s\": {\"inputs\": %llu, \"max_ulps\": %s, \"special_mismatches\": %llu, \"worst\": [",
                  b ? "," : "", isas[b].c_str(), static_cast<unsigned long long>(tally.checked),
                  std::isfinite(max_ulps) ? std::to_string(max_ulps).c_str() : "1e999",
                  static_cast<unsigned long long>(tally.special_mismatches));
      for (size_t i = 0; i < tally.worst.size(); ++i) {
        std::printf("%s%s", i ? ", " : "", float_text(tally.worst[i].x).c_str());
      }
      std::printf("]}");
      if (tally.special_mismatches > 0) {
        std::fprintf(stderr, "%s (%s): %llu Inf/NaN results differ from libm's, first at x = %s\n", f.name,
                     isas[b].c_str(), static_cast<unsigned long long>(tally.special_mismatches),
                     float_text(tally.first_special_mismatch).c_str());
        status = 1;
      }
    }
    std::printf("\n  }");
    std::fflush(stdout);
  }
  std::printf("\n}\n");
  return status;
}
