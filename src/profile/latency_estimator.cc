#include "profile/latency_estimator.h"

namespace tutti {

int LatencyEstimator::AddModel(int candidates, int processors) {
  Table t;
  t.processors = processors;
  t.us.assign(static_cast<size_t>(candidates * processors), -1.0);
  t.samples.assign(static_cast<size_t>(candidates * processors), 0);
  tables_.push_back(std::move(t));
  return static_cast<int>(tables_.size()) - 1;
}

void LatencyEstimator::Set(int model, int candidate, int processor, double us, int samples) {
  Table& t = tables_[static_cast<size_t>(model)];
  size_t i = static_cast<size_t>(candidate * t.processors + processor);
  t.us[i] = us;
  t.samples[i] = samples;
}

void LatencyEstimator::Observe(int model, int candidate, int processor, double us) {
  Table& t = tables_[static_cast<size_t>(model)];
  size_t i = static_cast<size_t>(candidate * t.processors + processor);
  t.us[i] = t.samples[i] == 0 ? us : alpha_ * us + (1.0 - alpha_) * t.us[i];
  ++t.samples[i];
}

}  // namespace tutti
