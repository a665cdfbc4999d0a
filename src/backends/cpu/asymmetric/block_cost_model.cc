#include "backends/cpu/asymmetric/block_cost_model.h"

#include <dnnl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti::cpu::asymmetric {
namespace {

using Json = nlohmann::json;
constexpr const char* kFormat = "tutti-asymo-cost-model";
constexpr const char* kFeatureNames[BlockCostModel::kFeatures] = {"bias", "input_elems", "filter_elems",
                                                                 "output_elems", "flops"};

std::array<double, BlockCostModel::kFeatures> Features(const BlockShape& b) {
  return {1.0, b.input_elems, b.filter_elems, b.output_elems, b.flops};
}

// Solves the (small, symmetric positive definite after ridge) system a x = b by Gaussian
// elimination with partial pivoting; false when singular.
bool Solve(std::vector<std::vector<double>> a, std::vector<double> b, std::vector<double>& x) {
  const size_t n = b.size();
  for (size_t col = 0; col < n; ++col) {
    size_t piv = col;
    for (size_t r = col + 1; r < n; ++r)
      if (std::abs(a[r][col]) > std::abs(a[piv][col])) piv = r;
    if (std::abs(a[piv][col]) < 1e-300) return false;
    std::swap(a[col], a[piv]);
    std::swap(b[col], b[piv]);
    for (size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      for (size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  x.assign(n, 0);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t c = i + 1; c < n; ++c) s -= a[i][c] * x[c];
    x[i] = s / a[i][i];
  }
  return true;
}

}  // namespace

BlockCostModel BlockCostModel::Default() {
  // 4 us per block; ~8 GB/s for operand traffic (2 ns per float read or written); 40 GFLOP/s.
  return BlockCostModel({4e-6, 0.5e-9, 0.5e-9, 0.5e-9, 1.0 / 40e9});
}

double BlockCostModel::PredictSeconds(const BlockShape& b) const {
  const auto f = Features(b);
  double t = 0;
  for (size_t i = 0; i < kFeatures; ++i) t += c_[i] * f[i];
  return std::max(t, 1e-9);
}

double BlockCostModel::MeanRelativeError(const std::vector<BlockSample>& samples) const {
  double sum = 0;
  size_t n = 0;
  for (const BlockSample& s : samples) {
    if (s.seconds <= 0) continue;
    sum += std::abs(PredictSeconds(s.shape) - s.seconds) / s.seconds;
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 0;
}

Result<BlockCostModel> BlockCostModel::Fit(const std::vector<BlockSample>& samples) {
  std::vector<const BlockSample*> used;
  for (const BlockSample& s : samples)
    if (s.seconds > 0 && std::isfinite(s.seconds)) used.push_back(&s);
  if (used.size() < kFeatures)
    return InvalidArgument("cost model: ", used.size(), " usable samples, need at least ", kFeatures);
  // Features differ by many orders of magnitude (1 vs 1e9 flops): scale each column to unit size so
  // the normal equations stay well conditioned, then unscale the solution.
  std::array<double, kFeatures> scale{};
  for (const BlockSample* s : used) {
    const auto f = Features(s->shape);
    for (size_t i = 0; i < kFeatures; ++i) scale[i] = std::max(scale[i], std::abs(f[i]));
  }
  for (double& s : scale) s = s > 0 ? s : 1;
  // Non-negative least squares, the simple way: solve on the free set, pin the most negative
  // coefficient to zero, repeat (at most kFeatures rounds).
  std::array<bool, kFeatures> free_var;
  free_var.fill(true);
  std::vector<double> x;
  for (size_t round = 0; round <= kFeatures; ++round) {
    std::vector<size_t> idx;
    for (size_t i = 0; i < kFeatures; ++i)
      if (free_var[i]) idx.push_back(i);
    if (idx.empty()) return Internal("cost model: every coefficient was pinned to zero");
    const size_t n = idx.size();
    std::vector<std::vector<double>> ata(n, std::vector<double>(n, 0));
    std::vector<double> atb(n, 0);
    for (const BlockSample* s : used) {
      const auto f = Features(s->shape);
      const double w = 1.0 / s->seconds;  // relative error: divide the row by the target
      for (size_t r = 0; r < n; ++r) {
        const double fr = f[idx[r]] / scale[idx[r]] * w;
        atb[r] += fr * s->seconds * w;
        for (size_t c = 0; c < n; ++c) ata[r][c] += fr * f[idx[c]] / scale[idx[c]] * w;
      }
    }
    for (size_t r = 0; r < n; ++r) ata[r][r] += 1e-9 * (1 + ata[r][r]);  // ridge: collinear features
    std::vector<double> sol;
    if (!Solve(ata, atb, sol)) return Internal("cost model: singular system");
    size_t worst = n;
    for (size_t r = 0; r < n; ++r)
      if (sol[r] < 0 && (worst == n || sol[r] < sol[worst])) worst = r;
    if (worst == n) {
      Coefficients c{};
      for (size_t r = 0; r < n; ++r) c[idx[r]] = sol[r] / scale[idx[r]];
      BlockCostModel m(c, static_cast<int>(used.size()));
      m.mean_rel_error_ = m.MeanRelativeError(samples);
      return m;
    }
    free_var[idx[worst]] = false;
  }
  return Internal("cost model: no non-negative fit");
}

std::string BlockCostModel::ToJson() const {
  Json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["features"] = std::vector<std::string>(std::begin(kFeatureNames), std::end(kFeatureNames));
  j["coefficients_s"] = std::vector<double>(c_.begin(), c_.end());
  j["samples"] = samples_;
  j["mean_rel_error"] = mean_rel_error_;
  return j.dump(2);
}

Result<BlockCostModel> BlockCostModel::FromJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("cost model: not a JSON object");
  if (!j.contains("format") || j["format"] != kFormat)
    return InvalidArgument("cost model: field 'format' must be \"", kFormat, "\"");
  if (!j.contains("version") || j["version"] != 1) return InvalidArgument("cost model: unsupported 'version'");
  if (!j.contains("features") || j["features"] != Json(std::vector<std::string>(std::begin(kFeatureNames), std::end(kFeatureNames))))
    return InvalidArgument("cost model: field 'features' does not match this build's features");
  const Json& c = j.contains("coefficients_s") ? j["coefficients_s"] : Json();
  if (!c.is_array() || c.size() != kFeatures)
    return InvalidArgument("cost model: field 'coefficients_s' must be an array of ", kFeatures, " numbers");
  Coefficients coef{};
  for (size_t i = 0; i < kFeatures; ++i) {
    if (!c[i].is_number() || !std::isfinite(c[i].get<double>()) || c[i].get<double>() < 0)
      return InvalidArgument("cost model: coefficients_s[", i, "] must be a finite number >= 0");
    coef[i] = c[i].get<double>();
  }
  int samples = j.contains("samples") && j["samples"].is_number_integer() ? j["samples"].get<int>() : 0;
  double err = j.contains("mean_rel_error") && j["mean_rel_error"].is_number() ? j["mean_rel_error"].get<double>() : 0;
  return BlockCostModel(coef, samples, err);
}

Status BlockCostModel::Save(const std::string& path) const {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return Unavailable("cannot write cost model to ", tmp);
    out << ToJson() << "\n";
    if (!out) return Unavailable("cannot write cost model to ", tmp);
  }
  std::filesystem::rename(tmp, p, ec);  // atomic: a concurrent reader sees the old or the new file
  if (ec) return Unavailable("cannot move cost model into ", path, ": ", ec.message());
  return Status::Ok();
}

Result<BlockCostModel> BlockCostModel::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("no cost model at ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto m = FromJson(ss.str());
  if (!m.ok()) return m.status().WithContext(path);
  return m;
}

std::string DefaultCostModelPath() {
  if (const char* p = std::getenv("TUTTI_ASYMO_COST_MODEL"); p && *p) return p;
  std::string dir;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) dir = x;
  else if (const char* h = std::getenv("HOME"); h && *h) dir = std::string(h) + "/.cache";
  else dir = "/tmp";
  return dir + "/tutti/asymo_cost_model.json";
}

const BlockCostModel& ProcessCostModel() {
  static const BlockCostModel model = [] {
    auto m = BlockCostModel::Load(DefaultCostModelPath());
    return m.ok() ? *m : BlockCostModel::Default();
  }();
  return model;
}

std::vector<BlockSample> MeasureBlockSamples(double budget_s) {
  // (M, N, K): M = output pixels (or batch rows for FC), N = output channels of the block,
  // K = reduction. Spans ResNet/VGG/MobileNet layer blocks and FC blocks at batch 1.
  static const int kM[] = {1, 49, 196, 784};
  static const int kN[] = {16, 64, 256};
  static const int kK[] = {64, 576, 2304};
  using Clock = std::chrono::steady_clock;
  const size_t shapes = std::size(kM) * std::size(kN) * std::size(kK);
  const double per_shape_s = std::max(1e-3, budget_s / static_cast<double>(shapes));
  std::vector<BlockSample> out;
  for (int m : kM)
    for (int n : kN)
      for (int k : kK) {
        std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(k) * n, 0.25f),
            c(static_cast<size_t>(m) * n, 0.f);
        dnnl_sgemm('N', 'N', m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);  // JIT warm-up
        double best = 1e30;
        const auto deadline = Clock::now() + std::chrono::duration<double>(per_shape_s);
        int reps = 0;
        do {  // the fastest of several timings: a sample is the block's time when not interrupted
          const auto t0 = Clock::now();
          dnnl_sgemm('N', 'N', m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c.data(), n);
          best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
          ++reps;
        } while (Clock::now() < deadline || reps < 2);
        BlockSample s;
        s.shape = {static_cast<double>(m) * k, static_cast<double>(k) * n, static_cast<double>(m) * n,
                   2.0 * m * n * k};
        s.seconds = best;
        out.push_back(s);
      }
  return out;
}

int64_t ChooseBlockExtent(const BlockCostModel& model, int64_t extent, int64_t granule,
                          const std::function<BlockShape(int64_t)>& shape_of,
                          const std::vector<double>& relative_speeds) {
  if (extent <= 0) return 1;
  granule = std::max<int64_t>(1, granule);
  if (extent <= granule || relative_speeds.size() <= 1) return extent;
  double fastest = 0, sum = 0;
  for (double s : relative_speeds) fastest = std::max(fastest, s);
  if (fastest <= 0) return extent;
  for (double s : relative_speeds) sum += std::max(s, 0.0) / fastest;  // the model is for a fast core
  const double mean = sum / static_cast<double>(relative_speeds.size());
  // Enough candidates to reach 16 blocks per core; more would only add per-block cost.
  const int64_t max_blocks = std::min<int64_t>(256, 16 * static_cast<int64_t>(relative_speeds.size()));
  int64_t best_b = extent;
  double best_t = 1e300;
  for (int64_t b = (extent + granule - 1) / granule * granule; b >= granule; b -= granule) {
    const int64_t full = extent / b, rest = extent % b;
    if (full + (rest ? 1 : 0) > max_blocks) break;
    const double tb = model.PredictSeconds(shape_of(std::min(b, extent)));
    const double work = static_cast<double>(full) * tb + (rest ? model.PredictSeconds(shape_of(rest)) : 0);
    const double makespan = work / sum + tb / mean;
    if (makespan < best_t * (1 - 1e-9)) best_t = makespan, best_b = std::min(b, extent);
  }
  return best_b;
}

}  // namespace tutti::cpu::asymmetric
