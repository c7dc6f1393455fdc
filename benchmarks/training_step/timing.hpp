// benchmarks/training_step/timing.hpp — the timing protocol shared with the Python reference
// (benchmarks/python_reference/bench.py, `time_runs`): `warmup` untimed calls, then `repeats` runs
// of `iterations` calls each; a run's figure is its mean time per call and the reported figure is
// the median over runs, which the other jobs of a shared machine disturb least.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scorelift::benchmarks {

struct timing_protocol {
  int warmup = 20;
  int repeats = 15;
  int iterations = 20;
};

struct timing {
  double median_s = 0.0;
  double min_s = 0.0;
  std::vector<double> runs_s;
};

template <class Body>
timing time_runs(Body&& body, const timing_protocol& protocol) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < protocol.warmup; ++i) body();
  timing result;
  for (int r = 0; r < protocol.repeats; ++r) {
    const auto start = clock::now();
    for (int i = 0; i < protocol.iterations; ++i) body();
    result.runs_s.push_back(std::chrono::duration<double>(clock::now() - start).count() / protocol.iterations);
  }
  std::vector<double> sorted = result.runs_s;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  // The median as Python's statistics.median computes it (mean of the two middle runs for even n).
  result.median_s = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  result.min_s = sorted.front();
  return result;
}

/// One row of the JSON both implementations write: {"name", "median_s", "min_s", "runs_s", ...}.
inline nlohmann::json timing_row(const std::string& name, const timing& t) {
  return {{"name", name}, {"median_s", t.median_s}, {"min_s", t.min_s}, {"runs_s", t.runs_s}};
}

}  // namespace scorelift::benchmarks
