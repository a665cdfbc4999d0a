// Expected latency of each (model, candidate subgraph, processor), the numbers every scheduler
// decides on. Seeded by offline profiling or a profile file, then followed online with an
// exponential moving average, so that a processor that slows down (frequency scaling, heat, other
// load) is seen as slower within a few runs and schedules adapt (Band's third challenge).
//
// Not synchronised: the engine reads and updates it under its own mutex (scheduling decisions and
// completions already hold that lock; a second lock would only add cost to a 10 us decision).
#pragma once

#include <cstddef>
#include <vector>

namespace tutti {

class LatencyEstimator {
 public:
  // `alpha`: weight of the newest sample (1 = only the last run counts; 0.1 = about the last ten).
  explicit LatencyEstimator(double alpha = 0.2) : alpha_(alpha) {}
  double alpha() const { return alpha_; }

  // A table for a model with `candidates` x `processors` entries; returns its id.
  int AddModel(int candidates, int processors);

  // Smoothed latency in microseconds, or a negative number when never measured.
  double Get(int model, int candidate, int processor) const {
    const Table& t = tables_[static_cast<size_t>(model)];
    return t.us[static_cast<size_t>(candidate * t.processors + processor)];
  }
  int samples(int model, int candidate, int processor) const {
    const Table& t = tables_[static_cast<size_t>(model)];
    return t.samples[static_cast<size_t>(candidate * t.processors + processor)];
  }
  // Replaces the estimate (offline profile, profile file).
  void Set(int model, int candidate, int processor, double us, int samples = 1);
  // Folds in one online measurement: est = alpha * us + (1 - alpha) * est.
  void Observe(int model, int candidate, int processor, double us);

 private:
  struct Table {
    int processors = 0;
    std::vector<double> us;
    std::vector<int> samples;
  };
  double alpha_;
  std::vector<Table> tables_;
};

}  // namespace tutti
