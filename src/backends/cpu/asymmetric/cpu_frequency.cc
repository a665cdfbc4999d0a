#include "backends/cpu/asymmetric/cpu_frequency.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti::cpu::asymmetric {
namespace {

bool ReadLine(const std::string& path, std::string& out) {
  std::ifstream in(path);
  if (!in || !std::getline(in, out)) return false;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) out.pop_back();
  return true;
}

int64_t ReadKhz(const std::string& path) {
  std::string s;
  if (!ReadLine(path, s)) return 0;
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

bool WriteLine(const std::string& path, const std::string& v) {
  std::ofstream out(path);
  if (!out) return false;
  out << v << "\n";
  out.flush();
  return static_cast<bool>(out);
}

std::optional<Shape> ShapeOf(const Graph& g, ValueId v) {
  if (v == kNoValue) return std::nullopt;
  const Value& val = g.value(v);
  if (!val.info.shape) return std::nullopt;
  return ToConcrete(*val.info.shape);
}

}  // namespace

double DataReuse(double m, double n, double k) {
  const double moved = m * k + n * k + 2 * m * n;
  return moved > 0 ? 2 * m * n * k / moved : 0;
}

double OperatorDataReuse(const Graph& graph, const Node& node) {
  if (!node.domain.empty() || node.inputs.size() < 2) return -1;
  auto a = ShapeOf(graph, node.inputs[0]), b = ShapeOf(graph, node.inputs[1]);
  if (!a || !b) return -1;
  if (node.op_type == "Conv") {
    auto y = node.outputs.empty() ? std::nullopt : ShapeOf(graph, node.outputs[0]);
    if (!y || y->size() < 3 || b->size() < 3) return -1;
    const int64_t groups = std::max<int64_t>(1, node.GetInt("group", 1));
    double pixels = static_cast<double>((*y)[0]);
    for (size_t i = 2; i < y->size(); ++i) pixels *= static_cast<double>((*y)[i]);
    double k = static_cast<double>((*b)[1]);
    for (size_t i = 2; i < b->size(); ++i) k *= static_cast<double>((*b)[i]);
    return DataReuse(pixels, static_cast<double>((*b)[0] / groups), k);
  }
  if (node.op_type == "Gemm") {
    if (a->size() != 2 || b->size() != 2) return -1;
    const bool ta = node.GetInt("transA", 0) != 0, tb = node.GetInt("transB", 0) != 0;
    return DataReuse(static_cast<double>(ta ? (*a)[1] : (*a)[0]), static_cast<double>(tb ? (*b)[0] : (*b)[1]),
                     static_cast<double>(ta ? (*a)[0] : (*a)[1]));
  }
  if (node.op_type == "MatMul") {
    if (a->empty() || b->empty()) return -1;
    double m = a->size() >= 2 ? static_cast<double>((*a)[a->size() - 2]) : 1;
    for (size_t i = 0; i + 2 < a->size(); ++i) m *= static_cast<double>((*a)[i]);  // batch rows share B
    const double n = b->size() >= 2 ? static_cast<double>(b->back()) : 1;
    return DataReuse(m, n, static_cast<double>(a->back()));
  }
  return -1;
}

std::unique_ptr<CpuFrequencyController> CpuFrequencyController::Open(const std::string& root,
                                                                     const std::vector<int>& cores,
                                                                     EnergyPolicy policy) {
  std::unique_ptr<CpuFrequencyController> c(new CpuFrequencyController());
  c->policy_ = policy;
  auto fail = [&](std::string why) {
    c->can_set_ = false;
    c->reason_ = std::move(why);
    c->cores_.clear();
    return std::move(c);
  };
  if (cores.empty()) return fail("no cores given");
  for (int core : cores) {
    Core k;
    k.dir = root + "/cpu" + std::to_string(core) + "/cpufreq";
    if (!std::filesystem::exists(k.dir)) return fail(k.dir + " does not exist (no cpufreq driver)");
    const int64_t lo = ReadKhz(k.dir + "/cpuinfo_min_freq"), hi = ReadKhz(k.dir + "/cpuinfo_max_freq");
    if (lo <= 0 || hi <= 0 || lo > hi) return fail("cannot read " + k.dir + "/cpuinfo_{min,max}_freq");
    // Cores of one controller share one setting, so it must be a frequency every core can run.
    c->min_khz_ = c->cores_.empty() ? lo : std::max(c->min_khz_, lo);
    c->max_khz_ = c->cores_.empty() ? hi : std::min(c->max_khz_, hi);
    if (!ReadLine(k.dir + "/scaling_max_freq", k.original_max)) return fail("cannot read " + k.dir + "/scaling_max_freq");
    std::string governor;
    ReadLine(k.dir + "/scaling_governor", governor);
    k.userspace = governor == "userspace";
    if (k.userspace) ReadLine(k.dir + "/scaling_setspeed", k.original_speed);
    // Writable? Write the value back unchanged: the same check the kernel makes for a real change.
    if (::access((k.dir + "/scaling_max_freq").c_str(), W_OK) != 0 || !WriteLine(k.dir + "/scaling_max_freq", k.original_max))
      return fail("cannot write " + k.dir + "/scaling_max_freq (needs root, or cpufreq is read-only here)");
    if (k.userspace && !WriteLine(k.dir + "/scaling_setspeed", k.original_speed))
      return fail("cannot write " + k.dir + "/scaling_setspeed");
    if (c->cores_.empty()) {
      std::string list;
      if (ReadLine(k.dir + "/scaling_available_frequencies", list)) {
        std::istringstream ss(list);
        for (int64_t f; ss >> f;) c->available_.push_back(f);
        std::sort(c->available_.begin(), c->available_.end());
      }
    }
    c->cores_.push_back(std::move(k));
  }
  if (c->min_khz_ > c->max_khz_) return fail("the cores share no frequency range");
  c->can_set_ = true;
  return c;
}

CpuFrequencyController::~CpuFrequencyController() {
  if (!can_set_ || current_ < 0) return;
  for (const Core& k : cores_) {
    WriteLine(k.dir + "/scaling_max_freq", k.original_max);
    if (k.userspace) WriteLine(k.dir + "/scaling_setspeed", k.original_speed);
  }
}

int64_t CpuFrequencyController::FrequencyFor(double reuse) const {
  if (reuse < 0 || reuse >= policy_.compute_bound_reuse) return max_khz_;
  const double want = policy_.memory_bound_fraction * static_cast<double>(max_khz_);
  if (!available_.empty()) {
    for (int64_t f : available_)
      if (static_cast<double>(f) >= want && f >= min_khz_ && f <= max_khz_) return f;
    return max_khz_;
  }
  return std::clamp(static_cast<int64_t>(want), min_khz_, max_khz_);
}

Status CpuFrequencyController::Apply(int64_t khz) {
  if (!can_set_) return FailedPrecondition("cannot set CPU frequencies: ", reason_);
  std::lock_guard<std::mutex> lock(mu_);
  if (khz == current_) return Status::Ok();
  const std::string v = std::to_string(khz);
  for (const Core& k : cores_) {
    if (!WriteLine(k.dir + "/scaling_max_freq", v)) return Unavailable("cannot write ", k.dir, "/scaling_max_freq");
    if (k.userspace && !WriteLine(k.dir + "/scaling_setspeed", v))
      return Unavailable("cannot write ", k.dir, "/scaling_setspeed");
  }
  current_ = khz;
  return Status::Ok();
}

int64_t CpuFrequencyController::current_khz() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void WarnEnergyModeUnavailableOnce(const std::string& reason) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr, "tutti: energy-first mode: cannot set CPU frequencies (%s); running latency-first\n",
                 reason.c_str());
  });
}

}  // namespace tutti::cpu::asymmetric
