// How the CPU loops move their data: a chunk at a time, converted between
// the stored type and the compute type in whole chunks, and, for arrays
// larger than the caches, with prefetch hints for the streams they read and
// non-temporal stores for the ones they write.
// Measured on the machine BENCHMARKS.md names: the hardware prefetchers
// alone left a reduced forward at twice the time of a pure read of x; with
// the hints it runs at about that time. A normal store first reads each
// line it writes into the cache; a non-temporal one does not.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/portability.h"
#include "core/storage.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {

// Arrays below this size are left to the caches: hints and streaming
// stores would cost instructions and evict what the next op reads.
constexpr int64_t kStreamingBytes = int64_t(8) << 20;
template <class S> bool is_streamed(int64_t size) { return size * int64_t(sizeof(S)) >= kStreamingBytes; }

// Loops walk each stream in chunks of kStreamChunk elements; before each
// chunk they ask for the data kPrefetchBytes further along the stream, and
// after it they write the chunk out with write_out().
constexpr int64_t kStreamChunk = 256;
constexpr int64_t kPrefetchBytes = 16384;
template <class S> constexpr int64_t prefetch_distance() { return kPrefetchBytes / int64_t(sizeof(S)); }

// The size prefetch() clips to: the array's, or 0 (no hints) for one the
// caches hold.
template <class S> int64_t prefetched_size(int64_t size) { return is_streamed<S>(size) ? size : 0; }

// Asks for the cache lines of data[begin, end) clipped to [0, size): no
// address outside the array is ever formed.
template <class S> inline void prefetch(const S* data, int64_t begin, int64_t end, int64_t size) {
  constexpr int64_t kLine = 64 / int64_t(sizeof(S));
  for (int64_t i = std::max<int64_t>(begin, 0); i < std::min(end, size); i += kLine) {
    __builtin_prefetch(data + i);
  }
}

// float16 <-> float for n elements with the F16C instructions, 16 at a time
// in the AVX-512 build (its 512-bit forms), else 8;
// returns how many it converted (0 without F16C: the caller's loop does all).
// They round as store<float16> does and convert as load(float16), which the
// element-by-element forms in storage.h spell out and GCC does not vectorise.
inline int64_t convert_f16c([[maybe_unused]] const float16* src, [[maybe_unused]] float* dst,
                            [[maybe_unused]] int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    // The zero-masked forms with every lane set: the plain ones start from an
    // undefined register, which GCC 12 reports as maybe-uninitialised.
    _mm512_storeu_ps(dst + i, _mm512_maskz_cvtph_ps(0xFFFF, half));
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(half));
  }
#endif
  return i;
}
inline int64_t convert_f16c([[maybe_unused]] const float* src, [[maybe_unused]] float16* dst,
                            [[maybe_unused]] int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m256i half = _mm512_maskz_cvtps_ph(0xFFFF, _mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), half);
  }
#endif
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    const __m128i half = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), half);
  }
#endif
  return i;
}
template <class From, class To> inline int64_t convert_f16c(const From*, To*, int64_t) { return 0; }

// src[0, n) in the compute type: src itself where S is the compute type,
// else converted into buffer (n <= kStreamChunk).
template <class S> inline const compute_t<S>* load_chunk(const S* src, int64_t n, compute_t<S>* buffer) {
  if constexpr (std::is_same_v<S, compute_t<S>>) {
    return src;
  } else {
    for (int64_t i = convert_f16c(src, buffer, n); i < n; ++i) buffer[i] = load(src[i]);
    return buffer;
  }
}

// Where a loop puts its chunk of results before write_out(): straight into
// dst where S is the compute type and dst is not streamed (write_out then
// has nothing to do), else into buffer.
template <class S> inline compute_t<S>* output_chunk(S* dst, bool streaming, compute_t<S>* buffer) {
  if constexpr (std::is_same_v<S, compute_t<S>>) {
    if (!streaming) return dst;
  }
  return buffer;
}

// dst[0, n) = values[0, n) rounded to S (n <= kStreamChunk). With `streaming`,
// the whole 64-byte lines of dst are written with non-temporal stores (x86
// with AVX; plain copies elsewhere); a thread that streamed calls
// end_streaming() before it returns its work.
template <class S> inline void write_out(S* dst, const compute_t<S>* values, int64_t n, bool streaming) {
  alignas(64) S stored[kStreamChunk];
  const S* src = stored;
  if constexpr (std::is_same_v<S, compute_t<S>>) {
    if (values == dst) return;  // computed in place (output_chunk)
    src = values;
  } else {
    for (int64_t i = convert_f16c(values, stored, n); i < n; ++i) stored[i] = store<S>(values[i]);
  }
  char* d = reinterpret_cast<char*>(dst);
  const char* s = reinterpret_cast<const char*>(src);
  const int64_t bytes = n * int64_t(sizeof(S));
  int64_t i = 0;
#if defined(__AVX__)
  if (streaming) {
    i = std::min<int64_t>(bytes, (64 - reinterpret_cast<uintptr_t>(d) % 64) % 64);
    std::memcpy(d, s, i);
    for (; i + 64 <= bytes; i += 64) {
#if defined(__AVX512F__)
      _mm512_stream_si512(reinterpret_cast<__m512i*>(d + i), _mm512_loadu_si512(s + i));
#else
      for (int half = 0; half < 64; half += 32) {
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + half),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + half)));
      }
#endif
    }
  }
#endif
  std::memcpy(d + i, s + i, bytes - i);
}

// Non-temporal stores are weakly ordered: fence them before the thread
// hands its work back.
inline void end_streaming() {
#if defined(__AVX__)
  _mm_sfence();
#endif
}

}  // namespace cpu
SO_ISA_END
}  // namespace spatial_ops
