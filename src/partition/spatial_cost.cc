#include "partition/spatial_cost.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backends/remote/remote_backend.h"

namespace tutti::spatial {

namespace {

using Clock = std::chrono::steady_clock;
double MicrosSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

size_t SplittableCount(const std::vector<Unit>& units) {
  size_t n = 0;
  while (n < units.size() && units[n].splittable) ++n;
  return n;
}

struct BandCost {
  double set_us = 0, run_us = 0, get_us = 0;
};

// One device computing rows `out_rows` of units [first, last) alone. A remote device's time splits
// into compute (reported by the worker) and transfer, which is shared between Set and Get by bytes.
Result<BandCost> MeasureBand(const Graph& g, const std::vector<Unit>& units, const SpatialDevice& dev, size_t first,
                             size_t last, RowRange out_rows, const Tensor& input, int warmup, int iters) {
  TUTTI_ASSIGN_OR_RETURN(Tile tile, BuildTile(g, units, first, last, out_rows));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, dev.backend->Compile(tile.graph, dev.options));
  TUTTI_ASSIGN_OR_RETURN(Tensor band, SliceRows(input, tile.in_rows));
  auto* remote = dynamic_cast<RemoteExecutable*>(exe.get());
  std::vector<double> total, compute;
  size_t out_bytes = 0;
  for (int i = 0; i < warmup + iters; ++i) {
    std::vector<Tensor> out;
    auto t0 = Clock::now();
    TUTTI_RETURN_IF_ERROR(exe->Run({&band, 1}, out).WithContext(tile.graph.name + " on " + dev.name));
    double us = MicrosSince(t0);
    if (i < warmup) continue;
    total.push_back(us);
    compute.push_back(remote ? remote->last_timing().compute_us : us);
    out_bytes = out.empty() ? 0 : out[0].nbytes();
  }
  BandCost c;
  c.run_us = Median(compute);
  double transfer = std::max(0.0, Median(total) - c.run_us);
  double in_share = static_cast<double>(band.nbytes()) / static_cast<double>(std::max<size_t>(1, band.nbytes() + out_bytes));
  c.set_us = transfer * in_share;
  c.get_us = transfer - c.set_us;
  return c;
}

template <typename T>
nlohmann::json Matrix(const std::vector<std::vector<T>>& m) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& row : m) j.push_back(row);
  return j;
}

}  // namespace

Result<Tensor> UnitInput(const Graph& g, const Unit& u) {
  const Value& v = g.value(u.input);
  auto shape = v.info.shape ? ToConcrete(*v.info.shape) : std::nullopt;
  if (!shape) return InvalidArgument("value '", v.name, "' (input of unit '", u.label, "') has no concrete shape");
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DataType::kFloat32, *shape));
  float* p = t.data<float>();
  uint32_t s = 12345;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  return t;
}

Result<CostTables> ProfileUnits(const Graph& g, const std::vector<SpatialDevice>& devices,
                                const ProfileOptions& options) {
  auto t_start = Clock::now();
  TUTTI_ASSIGN_OR_RETURN(std::vector<Unit> units, FindUnits(g));
  const size_t n = SplittableCount(units), nd = devices.size();
  if (n == 0) return InvalidArgument("'", g.name, "' has no layer that can be split by rows");
  CostTables t;
  t.model_fingerprint = g.Fingerprint();
  for (const auto& d : devices) t.devices.push_back(d.name);
  for (const auto& u : units) t.units.push_back(u.label);
  std::vector<Tensor> inputs;
  for (size_t u = 0; u < n; ++u) {
    TUTTI_ASSIGN_OR_RETURN(Tensor x, UnitInput(g, units[u]));
    inputs.push_back(std::move(x));
  }
  auto pass = [&](const std::vector<double>& speeds) -> Status {
    t.set_us.assign(nd, std::vector<double>(n, 0));
    t.get_us = t.run_us = t.set_us;
    t.out_rows.assign(nd, std::vector<int64_t>(n, 0));
    for (size_t u = 0; u < n; ++u) {
      std::vector<int64_t> rows = ProportionalShares(units[u].out_h, speeds);
      for (size_t d = 0; d < nd; ++d) {
        if (rows[d] == 0) continue;
        TUTTI_ASSIGN_OR_RETURN(BandCost c, MeasureBand(g, units, devices[d], u, u + 1, ShareRange(rows, d), inputs[u],
                                                       options.warmup, options.iters));
        t.set_us[d][u] = c.set_us;
        t.run_us[d][u] = c.run_us;
        t.get_us[d][u] = c.get_us;
        t.out_rows[d][u] = rows[d];
      }
    }
    return Status::Ok();
  };
  t.speeds = options.speeds;
  if (t.speeds.size() != nd) {
    // First pass at equal shares: a device's speed is the rows it computes per microsecond.
    TUTTI_RETURN_IF_ERROR(pass(std::vector<double>(nd, 1.0)));
    t.speeds.assign(nd, 0);
    for (size_t d = 0; d < nd; ++d) {
      double us = 0, rows = 0;
      for (size_t u = 0; u < n; ++u) us += t.run_us[d][u], rows += static_cast<double>(t.out_rows[d][u]);
      t.speeds[d] = us > 0 ? rows / us : 0;
    }
  }
  TUTTI_RETURN_IF_ERROR(pass(t.speeds));
  t.head_us.assign(nd, 0);
  if (n < units.size()) {
    TUTTI_ASSIGN_OR_RETURN(Graph head, BuildHead(g, units, n));
    TUTTI_ASSIGN_OR_RETURN(Tensor x, UnitInput(g, units[n]));
    for (size_t d = 0; d < nd; ++d) {
      TUTTI_ASSIGN_OR_RETURN(auto exe, devices[d].backend->Compile(head, devices[d].options));
      std::vector<double> times;
      for (int i = 0; i < options.warmup + options.iters; ++i) {
        std::vector<Tensor> out;
        auto t0 = Clock::now();
        TUTTI_RETURN_IF_ERROR(exe->Run({&x, 1}, out).WithContext("head on " + devices[d].name));
        if (i >= options.warmup) times.push_back(MicrosSince(t0));
      }
      t.head_us[d] = Median(times);
    }
  }
  t.profile_s = MicrosSince(t_start) / 1e6;
  return t;
}

std::string CostTables::ToJson() const {
  nlohmann::json j;
  j["format"] = "tutti-spatial-cost-1";
  j["model_fingerprint"] = std::to_string(model_fingerprint);
  j["devices"] = devices;
  j["speeds"] = speeds;
  j["units"] = units;
  j["set_us"] = Matrix(set_us);
  j["get_us"] = Matrix(get_us);
  j["run_us"] = Matrix(run_us);
  j["out_rows"] = Matrix(out_rows);
  j["head_us"] = head_us;
  j["profile_s"] = profile_s;
  return j.dump(1);
}

Result<CostTables> CostTables::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("spatial cost tables: not a JSON object");
  if (j.value("format", "") != "tutti-spatial-cost-1")
    return InvalidArgument("spatial cost tables: field 'format' is not tutti-spatial-cost-1");
  CostTables t;
  auto field = [&](const char* name, auto& out) -> Status {
    if (!j.contains(name)) return InvalidArgument("spatial cost tables: field '", name, "' is missing");
    auto& v = j[name];
    using T = std::decay_t<decltype(out)>;
    // Type-check without exceptions: re-serialise through the expected type's shape.
    if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      if (!v.is_array()) return InvalidArgument("spatial cost tables: field '", name, "' is not a list");
      for (auto& e : v) {
        if (!e.is_string()) return InvalidArgument("spatial cost tables: field '", name, "' holds a non-string");
        out.push_back(e.template get<std::string>());
      }
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      if (!v.is_array()) return InvalidArgument("spatial cost tables: field '", name, "' is not a list");
      for (auto& e : v) {
        if (!e.is_number()) return InvalidArgument("spatial cost tables: field '", name, "' holds a non-number");
        out.push_back(e.template get<double>());
      }
    } else {
      using E = typename T::value_type::value_type;
      if (!v.is_array()) return InvalidArgument("spatial cost tables: field '", name, "' is not a matrix");
      for (auto& row : v) {
        if (!row.is_array()) return InvalidArgument("spatial cost tables: field '", name, "' is not a matrix");
        out.emplace_back();
        for (auto& e : row) {
          if (!e.is_number()) return InvalidArgument("spatial cost tables: field '", name, "' holds a non-number");
          out.back().push_back(e.template get<E>());
        }
      }
    }
    return Status::Ok();
  };
  if (!j["model_fingerprint"].is_string()) return InvalidArgument("spatial cost tables: field 'model_fingerprint' is not a string");
  t.model_fingerprint = std::strtoull(j["model_fingerprint"].get<std::string>().c_str(), nullptr, 10);
  TUTTI_RETURN_IF_ERROR(field("devices", t.devices));
  TUTTI_RETURN_IF_ERROR(field("speeds", t.speeds));
  TUTTI_RETURN_IF_ERROR(field("units", t.units));
  TUTTI_RETURN_IF_ERROR(field("set_us", t.set_us));
  TUTTI_RETURN_IF_ERROR(field("get_us", t.get_us));
  TUTTI_RETURN_IF_ERROR(field("run_us", t.run_us));
  TUTTI_RETURN_IF_ERROR(field("out_rows", t.out_rows));
  TUTTI_RETURN_IF_ERROR(field("head_us", t.head_us));
  t.profile_s = j.value("profile_s", 0.0);
  const size_t nd = t.devices.size();
  for (auto* m : {&t.set_us, &t.get_us, &t.run_us})
    if (m->size() != nd) return InvalidArgument("spatial cost tables: a matrix does not have one row per device");
  if (t.out_rows.size() != nd || t.speeds.size() != nd || t.head_us.size() != nd)
    return InvalidArgument("spatial cost tables: speeds/out_rows/head_us do not have one entry per device");
  for (size_t d = 0; d < nd; ++d) {
    size_t n = t.run_us[d].size();
    if (t.set_us[d].size() != n || t.get_us[d].size() != n || t.out_rows[d].size() != n)
      return InvalidArgument("spatial cost tables: rows of device ", d, " differ in length");
  }
  return t;
}

Status CostTables::Save(const std::string& path) const {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) return NotFound("cannot write spatial cost tables to '", path, "'");
    f << ToJson() << "\n";
    if (!f) return Internal("writing '", path, "' failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot move '", tmp, "' to '", path, "'");
  return Status::Ok();
}

Result<CostTables> CostTables::Load(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFound("spatial cost tables '", path, "' cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  auto t = FromJson(ss.str());
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

CostPredictor::CostPredictor(const Graph& g, std::vector<Unit> units, CostTables tables)
    : g_(g), units_(std::move(units)), tables_(std::move(tables)) {}

Result<double> CostPredictor::GroupUs(size_t first, size_t last, const std::vector<int64_t>& rows) const {
  if (first >= last || last > tables_.run_us.at(0).size()) return InvalidArgument("group [", first, ",", last, ") outside the tables");
  std::vector<NodeId> nodes;
  for (size_t u = first; u < last; ++u) nodes.insert(nodes.end(), units_[u].nodes.begin(), units_[u].nodes.end());
  TUTTI_ASSIGN_OR_RETURN(auto heights, PropagateHeights(g_, nodes, units_[first].input, units_[first].in_h));
  double worst = 0;
  for (size_t d = 0; d < rows.size(); ++d) {
    if (rows[d] == 0) continue;
    TUTTI_ASSIGN_OR_RETURN(auto need, RequiredRows(g_, nodes, units_[last - 1].output, ShareRange(rows, d), heights));
    // Alpha for the input transfer: the fused band's input rows over the profiled band's.
    std::vector<int64_t> profiled = ProportionalShares(units_[first].out_h, tables_.speeds);
    if (profiled[d] == 0) return InvalidArgument("device ", tables_.devices[d], " was not profiled (speed 0)");
    const std::vector<NodeId> first_nodes = units_[first].nodes;
    TUTTI_ASSIGN_OR_RETURN(auto base_h, PropagateHeights(g_, first_nodes, units_[first].input, units_[first].in_h));
    TUTTI_ASSIGN_OR_RETURN(auto base, RequiredRows(g_, first_nodes, units_[first].output, ShareRange(profiled, d), base_h));
    double alpha_in = static_cast<double>(need.at(units_[first].input).size()) /
                      static_cast<double>(std::max<int64_t>(1, base.at(units_[first].input).size()));
    double us = tables_.set_us[d][first] * alpha_in;
    for (size_t k = first; k < last; ++k) {
      double alpha = static_cast<double>(need.at(units_[k].output).size()) /
                     static_cast<double>(std::max<int64_t>(1, tables_.out_rows[d][k]));
      us += tables_.run_us[d][k] * alpha;
    }
    us += tables_.get_us[d][last - 1] * static_cast<double>(rows[d]) /
          static_cast<double>(std::max<int64_t>(1, tables_.out_rows[d][last - 1]));
    worst = std::max(worst, us);
  }
  return worst;
}

int CostPredictor::FastestDevice() const {
  int best = 0;
  for (size_t d = 1; d < tables_.speeds.size(); ++d)
    if (tables_.speeds[d] > tables_.speeds[static_cast<size_t>(best)]) best = static_cast<int>(d);
  return best;
}

double CostPredictor::HeadUs(int device) const { return tables_.head_us.at(static_cast<size_t>(device)); }

std::vector<int64_t> CostPredictor::BestShares(size_t first, size_t last, double* us) const {
  const int64_t out_h = units_[last - 1].out_h;
  std::vector<int64_t> split = ProportionalShares(out_h, tables_.speeds);
  std::vector<int64_t> alone(tables_.speeds.size(), 0);
  alone[static_cast<size_t>(FastestDevice())] = out_h;
  auto a = GroupUs(first, last, split), b = GroupUs(first, last, alone);
  double ua = a.ok() ? *a : 1e300, ub = b.ok() ? *b : 1e300;
  if (us) *us = std::min(ua, ub);
  return ua <= ub ? split : alone;
}

Result<double> MeasureGroupUs(const Graph& g, const std::vector<SpatialDevice>& devices, size_t first, size_t last,
                              const std::vector<int64_t>& rows, int warmup, int iters) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<Unit> units, FindUnits(g));
  SpatialPlan plan;
  plan.groups.push_back({first, last, rows});
  plan.head_first = last;
  TUTTI_ASSIGN_OR_RETURN(auto exec, SpatialExecutor::Create(g, devices, plan));
  TUTTI_ASSIGN_OR_RETURN(Tensor x, UnitInput(g, units.at(first)));
  std::vector<double> times;
  for (int i = 0; i < warmup + iters; ++i) {
    Tensor out;
    auto t0 = Clock::now();
    TUTTI_RETURN_IF_ERROR(exec->RunGroups(0, 1, x, out));
    if (i >= warmup) times.push_back(MicrosSince(t0));
  }
  return Median(times);
}

}  // namespace tutti::spatial
