// The math of the activation table (activation_table.h): one struct per
// element-wise Keras 3 activation, with its value, derivative and second
// derivative in z, written once for float and double and for host and device.
// The formulas and the choices at kinks follow the TensorFlow ops Keras calls
// (keras/src/backend/tensorflow/nn.py), so the fused kernels agree with the
// composite on both sides of every kink. Conditions on z combine with & and |,
// not && and ||: both sides are cheap, and without short-circuit branches the
// loops that call them stay vectorisable.
#pragma once

#include <type_traits>

#include "core/activation_table.h"
#include "core/activation_math.h"

namespace spatial_ops {
SO_ISA_BEGIN

template <class T> struct Params {
  T a, b, c;
  explicit Params(const ActivationParams& p) : a(T(p.values[0])), b(T(p.values[1])), c(T(p.values[2])) {}
};

namespace act {

using math::abs;
using math::exp;
using math::exp_nonpositive;
using math::exp_of_nonpositive;
using math::expm1;
using math::expm1_nonpositive;
using math::log1p_unit;
using math::max;
using math::min;
using math::sqrt;
using math::tanh;

// exp(-|z|), the building block of the stable sigmoid and softplus forms.
template <class T> SO_HD T exp_neg_abs(T z) { return exp_of_nonpositive(-abs(z)); }

// 1 / (1 + e) for z >= 0, e / (1 + e) below: one division either way, with
// its one rounding.
template <class T> SO_HD T stable_sigmoid(T z) {
  const T e = exp_neg_abs(z);
  return (z >= T(0) ? T(1) : e) / (T(1) + e);
}

template <class T> SO_HD T stable_softplus(T z) { return max(z, T(0)) + log1p_unit(exp_neg_abs(z)); }

// tanh(softplus(z)) in one exp and one division: with e = exp(z),
// tanh(log(1 + e)) = n / (n + 2), n = e (e + 2); written in w = exp(-|z|)
// so that nothing overflows, and without cancellation in either tail.
template <class T> struct TanhSoftplus {
  T n, d;  // tanh(softplus(z)) = n / (n + d)

  SO_HD explicit TanhSoftplus(T z) {
    const T w = exp_neg_abs(z);
    const bool positive = z > T(0);
    n = positive ? T(1) + T(2) * w : w * (w + T(2));  // n, times w^2 where z > 0
    d = positive ? T(2) * w * w : T(2);
  }
  SO_HD T value() const { return n / (n + d); }
  // 1 - tanh(softplus(z))^2 = d (2n + d) / (n + d)^2. As 1 - t * t it
  // cancels where t nears 1: in float32 it lost 1.3% of mish's second
  // derivative at z = 6.4, and all of it towards z = 9.
  SO_HD T one_minus_square() const { return d * (T(2) * n + d) / ((n + d) * (n + d)); }
};

template <class T> SO_HD T tanh_softplus(T z) { return TanhSoftplus<T>(z).value(); }

// Activations that are linear between kinks: the second derivative is 0
// everywhere, as TensorFlow's second-order gradients of these ops give, at
// the kinks too.
struct PiecewiseLinear {
  template <class T> SO_HD static T second_derivative(T, const Params<T>&) { return T(0); }
};

struct Linear : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z; }
  template <class T> SO_HD static T derivative(T, const Params<T>&) { return T(1); }
};

// keras.activations.relu with its defaults: tf.nn.relu (gradient 0 at 0).
struct Relu : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return max(z, T(0)); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) { return z > T(0) ? T(1) : T(0); }
};

// keras.activations.relu(negative_slope=a, max_value=b (inf: none), threshold=c),
// following the branches of keras' ReLU.static_call. Which branches apply
// depends on the parameters alone, so each pattern is its own instantiation,
// chosen once per call (dispatch_activation): the element loop keeps no
// parameter-dependent branch and vectorises.
template <bool kSlope, bool kMax, bool kThreshold>
struct ReluGeneralForm : PiecewiseLinear {
  static constexpr bool kLeaky = kSlope && !kMax && !kThreshold;
  // where(z > threshold, z, 0), or relu(z) when there is no threshold.
  template <class T> SO_HD static T thresholded(T z, const Params<T>& p) {
    if constexpr (kThreshold) return z > p.c ? z : T(0);
    return max(z, T(0));
  }
  template <class T> SO_HD static T value(T z, const Params<T>& p) {
    if constexpr (kLeaky) return z > T(0) ? z : z * p.a;
    T pos = thresholded(z, p);
    if constexpr (kMax && kThreshold) {
      // clip_by_value(pos, 0, max) with plain compares: pos (z > c ? z : 0)
      // is never NaN here, and GCC 12 vectorises no NaN-propagating min
      // chained after that select.
      const T clipped = pos < p.b ? pos : p.b;
      pos = clipped > T(0) ? clipped : T(0);
    } else if constexpr (kMax) {
      pos = max(min(pos, p.b), T(0));  // clip_by_value(pos, 0, max)
    }
    if constexpr (kSlope) return pos - p.a * max(p.c - z, T(0));  // c = 0 without threshold
    return pos;
  }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    if constexpr (kLeaky) return z > T(0) ? T(1) : p.a;
    T d = z > p.c ? T(1) : T(0);
    if constexpr (kMax) {
      // max_value 6 without threshold runs tf.nn.relu6 (strict at 6); any
      // other max_value runs clip_by_value (its gradient passes at the
      // bounds). Where d is not already 0, z > c and the thresholded z is z.
      const T at_max = !kThreshold && p.b == T(6) ? T(0) : T(1);
      d *= (z < p.b ? T(1) : (z == p.b ? at_max : T(0))) * (z >= T(0) ? T(1) : T(0));
    }
    if constexpr (kSlope) d += z < p.c ? p.a : T(0);
    return d;
  }
};

// relu_general's row in the table; dispatch_activation picks the form.
struct ReluGeneral {};

// The form for these parameters (in the compute type T): a slope, a
// max_value, a threshold or not.
template <class T, class F> decltype(auto) dispatch_relu_general(const Params<T>& p, F&& f) {
  const bool slope = p.a != T(0), has_max = p.b < T(INFINITY), threshold = p.c != T(0);
  const auto with = [&](auto s, auto m) -> decltype(auto) {
    if (threshold) return f(ReluGeneralForm<decltype(s)::value, decltype(m)::value, true>{});
    return f(ReluGeneralForm<decltype(s)::value, decltype(m)::value, false>{});
  };
  const auto with_slope = [&](auto s) -> decltype(auto) {
    if (has_max) return with(s, std::true_type{});
    return with(s, std::false_type{});
  };
  if (slope) return with_slope(std::true_type{});
  return with_slope(std::false_type{});
}

struct Relu6 : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return min(max(z, T(0)), T(6)); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    return ((z > T(0)) & (z < T(6))) ? T(1) : T(0);
  }
};

struct LeakyRelu : PiecewiseLinear {  // a: negative_slope
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return z > T(0) ? z : z * p.a; }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) { return z > T(0) ? T(1) : p.a; }
};

struct Elu {  // a: alpha
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return z > T(0) ? z : p.a * expm1_nonpositive(z); }
  // NaN gives a, as TensorFlow's EluGrad (its y < 0 test fails, dy passes).
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    return z > T(0) ? T(1) : p.a * exp_nonpositive(z < T(0) ? z : T(0));
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>& p) {
    return z < T(0) ? p.a * exp_nonpositive(z) : T(0);
  }
};

// max(z, 0) + a * expm1(min(z, 0) / a); at z == 0 both branches pass their
// gradient in TensorFlow (Maximum and Minimum both select x on ties): 2.
// The exponent min(z, 0) / a is never positive for a > 0, the usual alpha,
// which the cheaper nonpositive exponentials then serve; any other alpha
// (negative, zero, NaN) takes the general ones. dispatch_row picks once per call.
template <bool kPositiveAlpha>
struct CeluForm {  // a: alpha
  template <class T> SO_HD static T exp_of(T u) {
    if constexpr (kPositiveAlpha) return exp_nonpositive(u);
    return exp(u);
  }
  template <class T> SO_HD static T expm1_of(T u) {
    if constexpr (kPositiveAlpha) return expm1_nonpositive(u);
    return expm1(u);
  }
  template <class T> SO_HD static T value(T z, const Params<T>& p) {
    return max(z, T(0)) + p.a * expm1_of(min(z, T(0)) / p.a);
  }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    return (z >= T(0) ? T(1) : T(0)) + (z <= T(0) ? exp_of(min(z, T(0)) / p.a) : T(0));
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>& p) {
    return z <= T(0) ? exp_of(z / p.a) / p.a : T(0);
  }
};

// celu's row in the table; dispatch_row picks the form.
struct Celu {};

struct Selu {
  template <class T> SO_HD static T scale() { return T(1.0507009873554804934193349852946); }
  template <class T> SO_HD static T scale_alpha() {
    return T(1.0507009873554804934193349852946 * 1.6732632423543772848170429916717);
  }
  template <class T> SO_HD static T value(T z, const Params<T>&) {
    return z < T(0) ? scale_alpha<T>() * expm1_nonpositive(z) : scale<T>() * z;
  }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    return z < T(0) ? scale_alpha<T>() * exp_nonpositive(z) : scale<T>();
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    return z < T(0) ? scale_alpha<T>() * exp_nonpositive(z) : T(0);
  }
};

// gelu as tf.nn.gelu computes it, including the constants it holds in float32
// (also for float64, so the two agree to the last bits there too). The exact
// form is 0.5 z erfc(-z c), c ~ sqrt(1/2): accurate for large negative z,
// where 1 + erf would cancel.
struct Gelu {
  template <class T> SO_HD static T c() { return T(0.7071067811865476f); }
  template <class T> SO_HD static T value(T z, const Params<T>&) { return T(0.5) * z * math::erfc(-z * c<T>()); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const auto erfc = math::erfc_and_gaussian(-z * c<T>());
    const T cdf = T(0.5) * erfc.erfc;
    const T pdf = c<T>() * T(0.5641895835477563) * erfc.gaussian;  // c / sqrt(pi) e^-(zc)^2
    return cdf + z * pdf;
  }
  // (c / sqrt(pi)) e^-(zc)^2 (2 - 2 c^2 z^2)
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T zc = z * c<T>();
    return c<T>() * T(0.5641895835477563) * exp_of_nonpositive(-zc * zc) * (T(2) - T(2) * zc * zc);
  }
};

// 0.5 z (1 + tanh(u)) = z sigmoid(2u), u = sqrt(2/pi) (z + 0.044715 z^3).
// Written with e = exp(-2|u|): 1 + tanh(u) and 1 - tanh(u)^2 would cancel to
// 0 in float32 for z below about -5 while the derivatives are still far from 0.
struct GeluTanh {
  template <class T> SO_HD static T k0() { return T(0.7978845608028654); }  // sqrt(2 / pi)
  template <class T> SO_HD static T k1() { return T(0.044715f); }           // float32, as in TF
  // 2u, as z (2 k0 + 2 k0 k1 z^2): a shorter dependency chain than
  // 2 k0 (z + k1 z^3), which is what sets the speed of the element loop.
  template <class T> SO_HD static T two_u(T z) { return z * (T(2) * k0<T>() + T(2) * k0<T>() * k1<T>() * (z * z)); }
  template <class T> SO_HD static T du(T z) { return k0<T>() * (T(1) + T(3) * k1<T>() * z * z); }
  // sigmoid(2u), sech^2(u) and tanh(u) from 2u, accurate in both tails.
  template <class T> struct Terms {
    T sigmoid, sech2, tanh;
  };
  template <class T> SO_HD static Terms<T> terms(T twice_u) {
    const T e = exp_neg_abs(twice_u);
    const T s = (twice_u >= T(0) ? T(1) : e) / (T(1) + e);  // one division, as stable_sigmoid
    return {s, T(4) * e / ((T(1) + e) * (T(1) + e)), T(2) * s - T(1)};
  }
  template <class T> SO_HD static bool saturated(T z, const Terms<T>& t) {
    return (t.sech2 == T(0)) & (abs(z) < T(INFINITY));
  }
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z * terms(two_u(z)).sigmoid; }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const Terms<T> t = terms(two_u(z));
    // For large finite |z| sech2 is 0 while du may be Inf: skip the 0 * Inf
    // (TensorFlow's gradient is NaN there). At z = +-Inf keep it: NaN, as in TensorFlow.
    return t.sigmoid + (saturated(z, t) ? T(0) : T(0.5) * z * t.sech2 * du(z));
  }
  // sech^2(u) (u' + z (u'' - 2 tanh(u) u'^2) / 2)
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const Terms<T> t = terms(two_u(z));
    if (saturated(z, t)) return T(0);
    const T d1 = du(z), d2 = T(6) * k0<T>() * k1<T>() * z;
    return t.sech2 * (d1 + T(0.5) * z * (d2 - T(2) * t.tanh * d1 * d1));
  }
};

struct Sigmoid {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return stable_sigmoid(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return s * (T(1) - s);
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return s * (T(1) - s) * (T(1) - T(2) * s);
  }
};

// relu6(z + 3) / 6, with relu6's strict kinks.
struct HardSigmoid : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return min(max(z + T(3), T(0)), T(6)) / T(6); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T u = z + T(3);
    return ((u > T(0)) & (u < T(6))) ? T(1) / T(6) : T(0);
  }
};

struct LogSigmoid {  // -softplus(-z)
  template <class T> SO_HD static T value(T z, const Params<T>&) { return min(z, T(0)) - log1p_unit(exp_neg_abs(z)); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) { return stable_sigmoid(-z); }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return -s * (T(1) - s);
  }
};

struct SparseSigmoid : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) {
    return z <= T(-1) ? T(0) : (z >= T(1) ? T(1) : T(0.5) * (z + T(1)));
  }
  // NaN gives 0.5: Keras' tf.where falls through to the linear branch.
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    return ((z <= T(-1)) | (z >= T(1))) ? T(0) : T(0.5);
  }
};

struct Tanh {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return tanh(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T t = tanh(z);
    return T(1) - t * t;
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T t = tanh(z);
    return T(-2) * t * (T(1) - t * t);
  }
};

// clip_by_value(z, -1, 1): its gradient passes at the bounds.
struct HardTanh : PiecewiseLinear {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return max(min(z, T(1)), T(-1)); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    return ((z >= T(-1)) & (z <= T(1))) ? T(1) : T(0);
  }
};

struct TanhShrink {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z - tanh(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T t = tanh(z);
    return t * t;
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T t = tanh(z);
    return T(2) * t * (T(1) - t * t);
  }
};

struct HardShrink : PiecewiseLinear {  // a: threshold
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return abs(z) > p.a ? z : T(0); }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) { return abs(z) > p.a ? T(1) : T(0); }
};

struct SoftShrink : PiecewiseLinear {  // a: threshold
  template <class T> SO_HD static T value(T z, const Params<T>& p) {
    return z > p.a ? z - p.a : (z < -p.a ? z + p.a : T(0));
  }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    return ((z > p.a) | (z < -p.a)) ? T(1) : T(0);
  }
};

struct Softplus {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return stable_softplus(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) { return stable_sigmoid(z); }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return s * (T(1) - s);
  }
};

struct SparsePlus {
  template <class T> SO_HD static T value(T z, const Params<T>&) {
    const T u = z + T(1);
    return z <= T(-1) ? T(0) : (z < T(1) ? T(0.25) * (u * u) : z);
  }
  // tf.where's gradient masks dy before the quadratic branch scales it by
  // 0.5 (z + 1): 0 * Inf is NaN at z = +-Inf (and NaN at NaN), as in TensorFlow.
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T quadratic = ((z > T(-1)) & (z < T(1))) ? T(1) : T(0);
    return quadratic * (T(0.5) * (z + T(1))) + (z >= T(1) ? T(1) : T(0));
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    return ((z > T(-1)) & (z < T(1))) ? T(0.5) : T(0);
  }
};

struct Squareplus {  // a: b
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return (z + sqrt(z * z + p.a)) / T(2); }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    return T(0.5) * (T(1) + z / sqrt(z * z + p.a));
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>& p) {
    const T r = sqrt(z * z + p.a);
    return T(0.5) * p.a / (r * r * r);
  }
};

struct Softsign {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z / (T(1) + abs(z)); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T d = T(1) + abs(z);
    return T(1) / (d * d);
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T d = T(1) + abs(z);
    const T sign = z > T(0) ? T(1) : (z < T(0) ? T(-1) : T(0));
    return T(-2) * sign / (d * d * d);
  }
};

struct Silu {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z * stable_sigmoid(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return s * (T(1) + z * (T(1) - s));
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    return s * (T(1) - s) * (T(2) + z * (T(1) - T(2) * s));
  }
};

struct HardSilu {
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return z * HardSigmoid::value(z, p); }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) {
    return HardSigmoid::value(z, p) + z * HardSigmoid::derivative(z, p);
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>& p) {
    return T(2) * HardSigmoid::derivative(z, p);
  }
};

struct Mish {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return z * tanh_softplus(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) {
    const TanhSoftplus<T> t(z);
    return t.value() + z * t.one_minus_square() * stable_sigmoid(z);
  }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) {
    const T s = stable_sigmoid(z);
    const TanhSoftplus<T> t(z);
    return t.one_minus_square() * s * (T(2) + z * ((T(1) - s) - T(2) * t.value() * s));
  }
};

struct Exponential {
  template <class T> SO_HD static T value(T z, const Params<T>&) { return exp(z); }
  template <class T> SO_HD static T derivative(T z, const Params<T>&) { return exp(z); }
  template <class T> SO_HD static T second_derivative(T z, const Params<T>&) { return exp(z); }
};

struct Threshold : PiecewiseLinear {  // a: threshold, b: default_value
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return z > p.a ? z : p.b; }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) { return z > p.a ? T(1) : T(0); }
};

}  // namespace act

// An activation's derivative seen as an activation: what the ops compute
// with derivative_order 1, which second-order gradients are built from.
template <class Act> struct DerivativeOf {
  template <class T> SO_HD static T value(T z, const Params<T>& p) { return Act::derivative(z, p); }
  template <class T> SO_HD static T derivative(T z, const Params<T>& p) { return Act::second_derivative(z, p); }
};

// f(Act{}), or f(DerivativeOf<Act>{}) for derivative_order 1.
template <class T, class Act, class F>
decltype(auto) dispatch_row(Act, const ActivationParams&, int derivative_order, F&& f) {
  return derivative_order == 0 ? f(Act{}) : f(DerivativeOf<Act>{});
}
template <class T, class F>
decltype(auto) dispatch_row(act::ReluGeneral, const ActivationParams& params, int derivative_order, F&& f) {
  return act::dispatch_relu_general(Params<T>(params), [&](auto form) -> decltype(auto) {
    return dispatch_row<T>(form, params, derivative_order, f);
  });
}

template <class T, class F>
decltype(auto) dispatch_row(act::Celu, const ActivationParams& params, int derivative_order, F&& f) {
  if (Params<T>(params).a > T(0)) return dispatch_row<T>(act::CeluForm<true>{}, params, derivative_order, f);
  return dispatch_row<T>(act::CeluForm<false>{}, params, derivative_order, f);
}

// Calls f(Act{}) for the spec's activation struct (its derivative when
// spec.derivative_order is 1), so a kernel template is instantiated once per
// activation and order, and the switch runs once per call. T is the compute
// type, in which parameter-dependent forms are chosen. Spec: a
// SpatialDenseSpec (activation, params, derivative_order).
template <class T, class Spec, class F> decltype(auto) dispatch_activation(const Spec& spec, F&& f) {
  switch (spec.activation) {
#define SO_CASE(cls, name, nparams) \
  case Activation::k##cls:          \
    return dispatch_row<T>(act::cls{}, spec.params, spec.derivative_order, f);
    SPATIAL_OPS_ACTIVATIONS(SO_CASE)
#undef SO_CASE
  }
  return f(act::Linear{});
}

SO_ISA_END
}  // namespace spatial_ops
