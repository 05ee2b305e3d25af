// Recording and replaying the SGEMM calls of a step (see gemm_trace.h), and the SGEMM peak.
#include "bench/gemm_trace.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <string>

#include "core/check.h"

namespace ot {
namespace {

using SgemmFn = void (*)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                         blasint, blasint, float, const float*, blasint, const float*, blasint,
                         float, float*, blasint);

// OpenBLAS's own cblas_sgemm: the next definition after this executable's, or, when the linker
// dropped the library from the executable's dependencies (nothing else of it used, --as-needed),
// loaded by name.
SgemmFn RealSgemm() {
  static const SgemmFn fn = [] {
    auto f = reinterpret_cast<SgemmFn>(dlsym(RTLD_NEXT, "cblas_sgemm"));
    if (!f)
      if (void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL))
        f = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    OT_CHECK(f != nullptr) << "cblas_sgemm: no BLAS library found: " << dlerror();
    return f;
  }();
  return fn;
}

std::atomic<bool> g_recording{false};
std::mutex g_mutex;
std::vector<GemmCall>* g_calls = nullptr;
int g_top_level_calls = 0;  // parallel regions between the same two top-level calls share an index

void RecordCall(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k, int lda,
                int ldb, float beta, int ldc) {
  GemmCall call{ta == CblasTrans, tb == CblasTrans, m, n, k, lda, ldb, ldc, beta};
  const bool parallel = omp_in_parallel();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (parallel) {
    call.region = g_top_level_calls;
    call.thread = omp_get_thread_num();
    call.team = omp_get_num_threads();
  } else {
    ++g_top_level_calls;
  }
  g_calls->push_back(call);
}

int64_t RowsA(const GemmCall& c) { return c.trans_a ? c.k : c.m; }
int64_t RowsB(const GemmCall& c) { return c.trans_b ? c.n : c.k; }

void Run(const GemmCall& c, const float* a, const float* b, float* out) {
  RealSgemm()(CblasRowMajor, c.trans_a ? CblasTrans : CblasNoTrans,
              c.trans_b ? CblasTrans : CblasNoTrans, c.m, c.n, c.k, 1.0f, a, c.lda, b, c.ldb,
              c.beta, out, c.ldc);
}

}  // namespace

double ReadClock(BenchClock clock) {
  if (clock == BenchClock::kCpu) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

GemmTrace GemmTrace::Record(const std::function<void()>& fn) {
  GemmTrace trace;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    OT_CHECK(!g_recording.load()) << "GemmTrace::Record is not reentrant";
    g_calls = &trace.calls_;
    g_top_level_calls = 0;
    g_recording.store(true);
  }
  fn();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_recording.store(false);
    g_calls = nullptr;
  }
  trace.Allocate();
  return trace;
}

double GemmTrace::Flops() const {
  double total = 0;
  for (const auto& c : calls_) total += c.Flops();
  return total;
}

void GemmTrace::Allocate() {
  int threads = 1;
  for (const auto& c : calls_) threads = std::max(threads, c.team);
  std::vector<int64_t> need_a(threads, 1), need_b(threads, 1), need_c(threads, 1);
  for (const auto& c : calls_) {
    const int t = c.region < 0 ? 0 : c.thread;
    need_a[t] = std::max(need_a[t], RowsA(c) * c.lda);
    need_b[t] = std::max(need_b[t], RowsB(c) * c.ldb);
    need_c[t] = std::max(need_c[t], int64_t{c.m} * c.ldc);
  }
  a_.resize(threads), b_.resize(threads), c_.resize(threads);
  for (int t = 0; t < threads; ++t) {
    // Small values in [-0.5, 0.5): no overflow and no denormals over repeated beta = 1
    // accumulation.
    auto fill = [](std::vector<float>& v, int64_t n) {
      v.resize(n);
      for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7919 % 1000) / 1000.0 - 0.5);
    };
    fill(a_[t], need_a[t]);
    fill(b_[t], need_b[t]);
    fill(c_[t], need_c[t]);
  }
}

std::vector<double> GemmTrace::Replay(int reps, BenchClock clock) {
  std::vector<double> times;
  const int64_t n = static_cast<int64_t>(calls_.size());
  for (int r = 0; r < reps; ++r) {
    const double t0 = ReadClock(clock);
    for (int64_t i = 0; i < n;) {
      const GemmCall& first = calls_[i];
      if (first.region < 0) {
        Run(first, a_[0].data(), b_[0].data(), c_[0].data());
        ++i;
        continue;
      }
      int64_t end = i;
      while (end < n && calls_[end].region == first.region) ++end;
#pragma omp parallel num_threads(first.team)
      {
        const int t = omp_get_thread_num();
        for (int64_t j = i; j < end; ++j)
          if (calls_[j].thread == t) Run(calls_[j], a_[t].data(), b_[t].data(), c_[t].data());
      }
      i = end;
    }
    times.push_back(ReadClock(clock) - t0);
  }
  return times;
}

std::vector<GemmTrace::ShapeTime> GemmTrace::TimeByShape(int reps, BenchClock clock) {
  auto name = [](const GemmCall& c) {
    return std::string(c.trans_a ? "T" : "N") + (c.trans_b ? "T" : "N") + " " +
           std::to_string(c.m) + "x" + std::to_string(c.n) + "x" + std::to_string(c.k);
  };
  std::map<std::string, ShapeTime> groups;
  std::map<std::string, std::vector<double>> samples;  // per group: seconds of each replay
  const int64_t n = static_cast<int64_t>(calls_.size());
  for (int r = 0; r < reps; ++r) {
    std::map<std::string, double> this_rep;
    for (int64_t i = 0; i < n;) {
      const GemmCall& first = calls_[i];
      int64_t end = i + 1;
      if (first.region >= 0)
        while (end < n && calls_[end].region == first.region) ++end;
      const std::string key = first.region < 0 ? name(first)
                                               : "parallel region (" + std::to_string(end - i) +
                                                     " calls) from " + name(first);
      const double t0 = ReadClock(clock);
      if (first.region < 0) {
        Run(first, a_[0].data(), b_[0].data(), c_[0].data());
      } else {
#pragma omp parallel num_threads(first.team)
        {
          const int t = omp_get_thread_num();
          for (int64_t j = i; j < end; ++j)
            if (calls_[j].thread == t) Run(calls_[j], a_[t].data(), b_[t].data(), c_[t].data());
        }
      }
      this_rep[key] += ReadClock(clock) - t0;
      if (r == 0) {
        ShapeTime& g = groups[key];
        g.shape = key;
        g.calls_per_step += end - i;
        for (int64_t j = i; j < end; ++j) g.flops += calls_[j].Flops();
      }
      i = end;
    }
    for (const auto& [key, sec] : this_rep) samples[key].push_back(sec);
  }
  std::vector<ShapeTime> out;
  for (auto& [key, g] : groups) {
    auto& v = samples[key];
    std::sort(v.begin(), v.end());
    g.seconds = v[v.size() / 2];
    out.push_back(g);
  }
  std::sort(out.begin(), out.end(),
            [](const ShapeTime& a, const ShapeTime& b) { return a.seconds > b.seconds; });
  return out;
}

double SgemmPeakGflops(int n, int reps, BenchClock clock) {
  std::vector<float> a(int64_t{n} * n, 0.25f), b(int64_t{n} * n, 0.5f), c(int64_t{n} * n, 0.0f);
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {
    const double t0 = ReadClock(clock);
    RealSgemm()(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    const double t = ReadClock(clock) - t0;
    if (r > 0) best = std::min(best, t);  // r == 0 warms up (thread pool, page faults)
  }
  return 2.0 * n * n * n / best * 1e-9;
}

}  // namespace ot

// Every cblas_sgemm call of this executable lands here first (a definition in the executable takes
// precedence over the shared library's); outside a recording it only forwards.
extern "C" void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m,
                            OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                            OPENBLAS_CONST float alpha, OPENBLAS_CONST float* a,
                            OPENBLAS_CONST blasint lda, OPENBLAS_CONST float* b,
                            OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float* c,
                            OPENBLAS_CONST blasint ldc) {
  if (ot::g_recording.load(std::memory_order_relaxed))
    ot::RecordCall(ta, tb, m, n, k, lda, ldb, beta, ldc);
  ot::RealSgemm()(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
