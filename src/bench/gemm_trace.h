// The GEMM-bound ceiling: record every cblas_sgemm call of one real training step (M, N, K,
// transposes, leading dimensions, and which OpenMP thread of which parallel region made it), then
// replay exactly those calls alone, with the same threading, on buffers of the same strides. The
// replay's time is what a step would take if everything but its matrix products were free. Also the
// machine's SGEMM peak. Entry points: GemmTrace::Record, GemmTrace::Replay, SgemmPeakGflops.
//
// How calls are seen: gemm_trace.cc defines cblas_sgemm itself, so every call from this executable
// reaches it first; outside a recording it forwards straight to OpenBLAS (one relaxed atomic load
// per call).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ot {

// What the benchmark measures: wall time, or this process's CPU time (all its threads). On a
// shared, oversubscribed machine wall time measures the neighbours; at --threads 1, CPU time is the
// throughput of one uncontended core.
enum class BenchClock { kWall, kCpu };
double ReadClock(BenchClock clock);  // seconds

struct GemmCall {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  float beta = 0;
  int region =
      -1;  // -1: called outside a parallel region (OpenBLAS threads it); else the region's index
  int thread = 0, team = 1;  // omp thread number and team size inside a region
  double Flops() const { return 2.0 * m * n * k; }
};

class GemmTrace {
 public:
  // Runs `fn` once and records the cblas_sgemm calls it makes (row-major calls only; others are
  // recorded as well but would be replayed as row-major). Not reentrant.
  static GemmTrace Record(const std::function<void()>& fn);

  const std::vector<GemmCall>& calls() const { return calls_; }
  double Flops() const;
  // Seconds of each of `reps` replays of the whole trace (top-level calls in order; each parallel
  // region as an omp parallel team of its recorded size, every thread replaying its own calls in
  // order).
  std::vector<double> Replay(int reps, BenchClock clock = BenchClock::kWall);

  // Where the ceiling's time goes: top-level calls grouped by shape (ta, tb, m, n, k), and parallel
  // regions grouped by their first call's shape; seconds per step (median over `reps` replays) and
  // FLOPs.
  struct ShapeTime {
    std::string shape;  // e.g. "NT 256x4096x64" or "region x64 NT 64x128x32 ..."
    int64_t calls_per_step = 0;
    double flops = 0, seconds = 0;
  };
  std::vector<ShapeTime> TimeByShape(int reps, BenchClock clock = BenchClock::kWall);

 private:
  void Allocate();
  std::vector<GemmCall> calls_;
  std::vector<std::vector<float>> a_, b_, c_;  // per thread: operands sized for its largest call
};

// GFLOP/s of a square n x n x n row-major sgemm at the current thread count, best of `reps` after
// one warm-up call.
double SgemmPeakGflops(int n, int reps, BenchClock clock = BenchClock::kWall);

}  // namespace ot
