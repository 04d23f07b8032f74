// The framework-free kernels driven directly, built with AddressSanitizer and
// UndefinedBehaviorSanitizer by scripts/sanitize.sh: hostile dimensions must
// be refused by the shape checks (naming them), and every valid shape, empty
// ones included, must run forward and backward inside buffers of exactly the
// size the spec names, serially and split across threads, for every dtype,
// reduction and a spread of activations. float64 linear results are also
// compared with plain loops. Exits non-zero on any failure; the sanitizers
// abort on any finding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cpu/spatial_dense_cpu.h"

namespace spatial_ops {
namespace {

int failures = 0;
int64_t checks = 0;

void expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  }
}

// --- shape checks ---------------------------------------------------------

constexpr int64_t kBig = int64_t(1) << 62;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

void check_refused(const Dims& x, const Dims& kernel, const Dims& bias, bool has_bias) {
  SpatialDenseSpec spec;
  spec.has_bias = has_bias;
  const std::string error = check_forward(x, kernel, bias, &spec);
  const std::string shapes = "x " + dims_to_string(x);
  expect(!error.empty() && error.find(dims_to_string(x)) != std::string::npos,
         "refuses " + shapes + ", kernel " + dims_to_string(kernel) + " naming x: '" + error + "'");
  Dims dy = x;
  expect(!check_backward(dy, x, kernel, bias, &spec).empty(), "backward refuses " + shapes);
}

void check_shape_checks() {
  const Dims w = {1, 3, 4};
  check_refused({}, w, w, true);
  check_refused({2, 1, 3}, w, w, true);
  check_refused({2, 1, 3, 4, 1}, w, w, true);
  check_refused({-2, 1, 3, 4}, w, w, true);
  check_refused({2, -1, 3, 4}, {-1, 3, 4}, {-1, 3, 4}, true);
  check_refused({2, 1, 3, -4}, {1, 3, -4}, {1, 3, -4}, true);
  check_refused({kBig, 4, 1, 1}, {4, 1, 1}, {4, 1, 1}, true);  // 2^64 elements
  check_refused({1, kMax, 2, 1}, {kMax, 2, 1}, {kMax, 2, 1}, true);
  check_refused({0, kBig, 4, 0}, {kBig, 4, 0}, {kBig, 4, 0}, true);  // empty, but kBig * 4 overflows
  check_refused({kMax, kMax, kMax, 0}, {kMax, kMax, 0}, {0}, false);
  check_refused({2, 1, 3, 4}, {1, 3, 5}, w, true);
  check_refused({2, 1, 3, 4}, w, {1, 3, 5}, true);
  check_refused({2, 1, 3, 4}, w, w, false);  // a bias where none is declared
  check_refused({2, 1, 3, 4}, w, {1}, false);
  // Valid extremes: empty tensors with large (non-overflowing) dimensions.
  SpatialDenseSpec no_bias;
  no_bias.has_bias = false;
  expect(
      check_forward({0, int64_t(1) << 40, int64_t(1) << 20, 0}, {int64_t(1) << 40, int64_t(1) << 20, 0}, {0}, &no_bias)
          .empty(),
      "accepts an empty x [0, 2^40, 2^20, 0]");
  SpatialDenseSpec reduced;
  reduced.reduction = Reduction::kSum;
  expect(!check_backward({2, 1, 3, 4}, {2, 1, 3, 4}, w, w, &reduced).empty(),
         "backward refuses an unreduced dy for a reduction");
  expect(check_backward({2, 1, 4}, {2, 1, 3, 4}, w, w, &reduced).empty(), "backward accepts a reduced dy");
  // The reduced run [reduce_begin, reduce_end) lies in x's spatial axes.
  for (const auto& [begin, end] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {2, 2}, {3, 2}, {2, 5}, {-1, 2}}) {
    SpatialDenseSpec bad_run;
    bad_run.reduction = Reduction::kSum;
    bad_run.reduce_begin = begin;
    bad_run.reduce_end = end;
    expect(!check_forward({2, 1, 3, 4}, w, w, &bad_run).empty(),
           "refuses the reduced axes [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
  }
  SpatialDenseSpec ranked;
  ranked.reduction = Reduction::kMean;
  ranked.reduce_begin = 1;
  ranked.reduce_end = 3;
  const Dims w5 = {3, 4, 5, 6};
  expect(check_forward({2, 3, 4, 5, 6}, w5, w5, &ranked).empty() && ranked.shape.outer == 1 &&
             ranked.shape.reduced == 12 && ranked.shape.inner == 30 &&
             ranked.output_dims({2, 3, 4, 5, 6}) == Dims{2, 5, 6},
         "x [2, 3, 4, 5, 6] reduced over [1, 3): canonical [2, 1, 12, 30], y [2, 5, 6]");
  const auto refuses = [](SpecAttributes attributes) {
    SpatialDenseSpec parsed;
    return !parse_attributes(attributes, &parsed).empty();
  };
  SpecAttributes elu;
  elu.activation = "elu";
  elu.activation_params = {std::nan("")};
  expect(refuses(elu), "refuses a NaN parameter");
  elu.activation_params = {};
  expect(refuses(elu), "refuses a missing parameter");
  SpecAttributes unknown;
  unknown.activation = "nope";
  expect(refuses(unknown), "refuses an unknown activation");
  SpecAttributes reduction;
  reduction.reduction = "max";
  expect(refuses(reduction), "refuses an unknown reduction");
  SpecAttributes order_minus_one, order_two;
  order_minus_one.derivative_order = -1;
  order_two.derivative_order = 2;
  expect(refuses(order_minus_one) && refuses(order_two), "derivative order 0 or 1");
}

// --- kernels on every kind of shape -----------------------------------------

// Splits [0, total) into uneven shards run on their own threads, as a pool
// may: the kernels must not assume any particular split.
void run_on_threads(int64_t total, int64_t, const WorkFn& work) {
  std::vector<std::thread> threads;
  int64_t begin = 0;
  for (int64_t shard = 1; begin < total; ++shard) {
    const int64_t end = std::min(total, begin + shard);
    threads.emplace_back([&work, begin, end] { work(begin, end); });
    begin = end;
  }
  for (std::thread& thread : threads) thread.join();
}

int64_t product(const Dims& dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;
  return p;
}

// A heap buffer of exactly n elements (nothing more for an overrun to hit
// unnoticed), filled with a deterministic pattern of moderate values.
struct Buffer {
  std::vector<unsigned char> bytes;
  Buffer(int64_t n, DType dtype, uint32_t seed) : bytes(size_t(n) * size_t(size_of(dtype))) {
    uint32_t state = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      const double v = (double(state >> 8) / double(1u << 24)) * 4.0 - 2.0;  // [-2, 2)
      set(i, v, dtype);
    }
  }
  void set(int64_t i, double v, DType dtype) {
    unsigned char* at = bytes.data() + size_t(i) * size_t(size_of(dtype));
    if (dtype == DType::kFloat64) {
      std::memcpy(at, &v, 8);
      return;
    }
    const float f = float(v);
    if (dtype == DType::kFloat32) {
      std::memcpy(at, &f, 4);
      return;
    }
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    // bfloat16: the high half; float16: any pattern with a small exponent.
    const uint16_t half = dtype == DType::kBFloat16
                              ? uint16_t(bits >> 16)
                              : uint16_t((bits >> 16 & 0x8000u) | (0x3800u + (bits >> 13 & 0x7ffu)));
    std::memcpy(at, &half, 2);
  }
  double get64(int64_t i) const {
    double v;
    std::memcpy(&v, bytes.data() + size_t(i) * 8, 8);
    return v;
  }
  void* data() { return bytes.data(); }
};

struct Case {
  const char* activation;
  std::vector<double> params;
};

// Plain loops for float64 linear: y, dx, dkernel, dbias.
void check_linear_float64(const SpatialDenseSpec& spec, const Buffer& x, const Buffer& kernel, const Buffer& bias,
                          const Buffer& y, const Buffer& dy, const Buffer& dx, const Buffer& dkernel,
                          const Buffer& dbias, const std::string& what) {
  const CanonicalShape& s = spec.shape;
  const int64_t n_total = s.spatial_size();
  const double divisor = spec.reduction == Reduction::kMean ? double(s.reduced) : 1.0;
  double worst = 0;
  std::vector<double> want_dkernel(n_total, 0.0), want_dbias(n_total, 0.0);
  std::vector<double> sums(spec.reduces() ? s.batch * s.outer * s.inner : 0, 0.0);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t a = 0; a < s.outer; ++a) {
      for (int64_t r = 0; r < s.reduced; ++r) {
        for (int64_t c = 0; c < s.inner; ++c) {
          const int64_t n = (a * s.reduced + r) * s.inner + c, i = b * n_total + n;
          const double z = x.get64(i) * kernel.get64(n) + (spec.has_bias ? bias.get64(n) : 0.0);
          const int64_t out = spec.reduces() ? (b * s.outer + a) * s.inner + c : i;
          if (spec.reduces())
            sums[out] += z;
          else
            worst = std::max(worst, std::fabs(y.get64(out) - z));
          const double g = dy.get64(out) / divisor;
          worst = std::max(worst, std::fabs(dx.get64(i) - g * kernel.get64(n)));
          want_dkernel[n] += g * x.get64(i);
          want_dbias[n] += g;
        }
      }
    }
  }
  for (size_t o = 0; o < sums.size(); ++o) worst = std::max(worst, std::fabs(y.get64(o) - sums[o] / divisor));
  for (int64_t n = 0; n < n_total; ++n) {
    worst = std::max(worst, std::fabs(dkernel.get64(n) - want_dkernel[n]));
    if (spec.has_bias) worst = std::max(worst, std::fabs(dbias.get64(n) - want_dbias[n]));
  }
  // Sums of up to a few thousand terms of size <= 4: far above any rounding.
  expect(worst < 1e-9, what + ": float64 linear vs plain loops, worst error " + std::to_string(worst));
}

void run_case(const Dims& x_dims, Reduction reduction, bool has_bias, DType dtype, const Case& act,
              int derivative_order, bool threaded, std::pair<int64_t, int64_t> reduced_axes = {2, 3}) {
  SpatialDenseSpec spec;
  const char* const reduction_names[] = {"none", "sum", "mean"};  // Reduction's order
  std::string error = parse_attributes({act.activation, act.params, reduction_names[int(reduction)], has_bias,
                                        derivative_order, reduced_axes.first, reduced_axes.second},
                                       &spec);
  const Dims w_dims(x_dims.begin() + 1, x_dims.end());
  const Dims bias_dims = has_bias ? w_dims : Dims{0};
  if (error.empty()) error = check_forward(x_dims, w_dims, bias_dims, &spec);
  const std::string what = std::string(act.activation) + " x " + dims_to_string(x_dims) + " reduction " +
                           std::to_string(int(reduction)) + (has_bias ? " bias" : " no bias") + " dtype " +
                           std::to_string(int(dtype)) + " order " + std::to_string(derivative_order) +
                           (threaded ? " threaded" : " serial");
  expect(error.empty(), what + ": valid shape refused: " + error);
  if (!error.empty()) return;
  const Dims y_dims = spec.output_dims(x_dims);
  Buffer x(product(x_dims), dtype, 1), kernel(product(w_dims), dtype, 2);
  Buffer bias(product(bias_dims), dtype, 3), dy(product(y_dims), dtype, 4);
  Buffer y(product(y_dims), dtype, 5), dx(product(x_dims), dtype, 6);
  Buffer dkernel(product(w_dims), dtype, 7), dbias(product(bias_dims), dtype, 8);
  const ParallelFor parallel_for = threaded ? ParallelFor(run_on_threads) : ParallelFor(run_serially);
  spatial_dense_forward_cpu(spec, dtype, x.data(), kernel.data(), bias.data(), y.data(), parallel_for);
  expect(check_backward(y_dims, x_dims, w_dims, bias_dims, &spec).empty(), what + ": dy refused");
  spatial_dense_backward_cpu(spec, dtype, dy.data(), x.data(), kernel.data(), bias.data(), dx.data(), dkernel.data(),
                             dbias.data(), parallel_for);
  if (dtype == DType::kFloat64 && std::string(act.activation) == "linear" && derivative_order == 0) {
    check_linear_float64(spec, x, kernel, bias, y, dy, dx, dkernel, dbias, what);
  }
}

void check_kernels() {
  const std::vector<Case> cases = {{"linear", {}},     {"relu_general", {0.1, 4.0, 0.5}}, {"gelu_tanh", {}},
                                   {"elu", {0.3}},     {"threshold", {0.2, -1.5}},        {"squareplus", {4.0}},
                                   {"exponential", {}}};
  const DType dtypes[] = {DType::kFloat16, DType::kBFloat16, DType::kFloat32, DType::kFloat64};
  const Reduction reductions[] = {Reduction::kNone, Reduction::kSum, Reduction::kMean};
  // Zero, one and several of each dimension; spatial sizes around the
  // kernels' 4096-element blocks and 256-wide accumulator blocks; batches
  // that give several batch blocks in the weight-gradient sums.
  std::vector<Dims> shapes;
  for (int64_t b : {0, 1, 3})
    for (int64_t a : {0, 1, 2})
      for (int64_t r : {0, 1, 5})
        for (int64_t c : {0, 1, 3}) shapes.push_back({b, a, r, c});
  for (const Dims& big : std::vector<Dims>{{2, 1, 4097, 1},
                                           {2, 1, 4096, 1},
                                           {3, 2, 3, 257},
                                           {2, 1, 17, 683},
                                           {70, 1, 4099, 1},
                                           {300, 3, 1, 3},
                                           {5, 4097, 1, 1},
                                           {1, 1, 1, 8193}}) {
    shapes.push_back(big);
  }
  int64_t runs = 0;
  for (const Dims& shape : shapes) {
    const bool large = product(shape) > 100000;
    for (DType dtype : dtypes) {
      for (Reduction reduction : reductions) {
        for (bool has_bias : {true, false}) {
          for (size_t k = 0; k < cases.size(); ++k) {
            if (large && k > 1) continue;  // the large shapes: two activations suffice
            for (int order : {0, 1}) {
              for (bool threaded : {false, true}) {
                run_case(shape, reduction, has_bias, dtype, cases[k], order, threaded);
                ++runs;
              }
            }
          }
        }
      }
    }
  }
  // x larger than the caches in every dtype (cpu/streaming.h's kStreamingBytes,
  // 8 MB): the loops prefetch and write with non-temporal stores, with rows
  // whose ends split cache lines. float64 linear is checked value by value.
  for (const Dims& streamed : std::vector<Dims>{{263, 3, 61, 89}, {263, 61, 267, 1}}) {
    for (DType dtype : dtypes) {
      for (Reduction reduction : reductions) {
        run_case(streamed, reduction, /*has_bias=*/true, dtype, cases[0], /*order=*/0, /*threaded=*/true);
        ++runs;
      }
    }
  }
  // Other ranks, with the reduced run given as axes of x.
  const std::vector<std::pair<Dims, std::pair<int64_t, int64_t>>> ranked = {
      {{3, 5}, {1, 2}}, {{2, 3, 4}, {1, 3}}, {{2, 3, 4}, {1, 2}}, {{2, 2, 3, 1, 5}, {2, 4}}, {{1, 0, 3, 2, 1}, {3, 5}}};
  for (const auto& [shape, axes] : ranked) {
    for (DType dtype : dtypes) {
      for (Reduction reduction : reductions) {
        for (bool has_bias : {true, false}) {
          for (size_t k = 0; k < 2; ++k) {
            for (int order : {0, 1}) {
              run_case(shape, reduction, has_bias, dtype, cases[k], order, /*threaded=*/true, axes);
              ++runs;
            }
          }
        }
      }
    }
  }
  std::printf("kernel runs: %lld (%zu shapes)\n", static_cast<long long>(runs), shapes.size() + ranked.size() + 2);
}

// dkernel and dbias of a float64 linear backward of x (64, 1, 1024, 1), run
// with parallel_for: four batch blocks of partial sums.
std::vector<unsigned char> weight_gradients(const ParallelFor& parallel_for, uint32_t seed) {
  const Dims x_dims = {64, 1, 1024, 1}, w_dims = {1, 1024, 1};
  SpatialDenseSpec spec;
  std::string error = parse_attributes(SpecAttributes(), &spec);  // linear, no reduction, with bias
  if (error.empty()) error = check_forward(x_dims, w_dims, w_dims, &spec);
  if (error.empty()) error = check_backward(x_dims, x_dims, w_dims, w_dims, &spec);
  expect(error.empty(), "nested backward: shape refused: " + error);
  const DType dtype = DType::kFloat64;
  Buffer x(product(x_dims), dtype, seed), kernel(product(w_dims), dtype, seed + 1);
  Buffer bias(product(w_dims), dtype, seed + 2), dy(product(x_dims), dtype, seed + 3);
  Buffer dx(product(x_dims), dtype, 0), dkernel(product(w_dims), dtype, 0), dbias(product(w_dims), dtype, 0);
  spatial_dense_backward_cpu(spec, dtype, dy.data(), x.data(), kernel.data(), bias.data(), dx.data(), dkernel.data(),
                             dbias.data(), parallel_for);
  std::vector<unsigned char> result = dkernel.bytes;
  result.insert(result.end(), dbias.bytes.begin(), dbias.bytes.end());
  return result;
}

// A pool may run another op's backward on a thread that waits in
// parallel_for for its own backward's work: the two must not share the
// partial-sum scratch a thread keeps. Here the outer backward's pool runs
// an inner backward between two halves of its work on the same thread; the
// outer's result must equal, bit for bit, that of a run without it.
void check_nested_backward() {
  const std::vector<unsigned char> alone = weight_gradients(ParallelFor(run_serially), 11);
  bool nested = false;
  const ParallelFor interleaving = [&](int64_t total, int64_t, const WorkFn& work) {
    const int64_t half = total / 2;
    if (half > 0) work(0, half);
    if (!nested) {
      nested = true;
      weight_gradients(ParallelFor(run_serially), 23);
    }
    if (total > half) work(half, total);
  };
  expect(weight_gradients(interleaving, 11) == alone && nested,
         "a backward nested in another's parallel_for leaves the outer's weight gradients unchanged");
}

}  // namespace
}  // namespace spatial_ops

int main() {
  std::printf("CPU build: %s\n", spatial_ops::active_cpu_isa());
  spatial_ops::check_shape_checks();
  spatial_ops::check_kernels();
  spatial_ops::check_nested_backward();
  std::printf("checks: %lld, failures: %d\n", static_cast<long long>(spatial_ops::checks), spatial_ops::failures);
  return spatial_ops::failures == 0 ? 0 : 1;
}
