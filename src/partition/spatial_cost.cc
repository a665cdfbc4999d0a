#include "partition/spatial_cost.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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

// The band unit `u` is profiled at on device d: its share of the rows at `speeds`, or the first
// row when that share is empty -- so every device has a time for every unit and can be judged
// running the whole model alone.
RowRange ProfiledBand(const Unit& u, const std::vector<double>& speeds, size_t d) {
  std::vector<int64_t> rows = ProportionalShares(u.out_h, speeds);
  return rows[d] > 0 ? ShareRange(rows, d) : RowRange{0, std::min<int64_t>(1, u.out_h)};
}

struct BandCost {
  double set_us = 0, run_us = 0, get_us = 0;
};

// A device's link as latency plus time per byte each way, from a few Echo round trips: transfer
// times then follow from bytes, so profiling sends no activations. A local device has none.
struct Link {
  double rtt_us = 0, up_us_per_byte = 0, down_us_per_byte = 0;
  double SetUs(size_t bytes) const { return rtt_us / 2 + up_us_per_byte * static_cast<double>(bytes); }
  double GetUs(size_t bytes) const { return rtt_us / 2 + down_us_per_byte * static_cast<double>(bytes); }
};

Result<Link> ProfileLink(const SpatialDevice& dev, int iters) {
  auto* remote = dynamic_cast<RemoteBackend*>(dev.backend.get());
  if (!remote) return Link{};
  constexpr int64_t kProbe = 256 << 10;  // 21 ms at 100 Mbit/s: large enough to see the bandwidth
  auto median_echo = [&](int64_t out, int64_t back) -> Result<double> {
    std::vector<double> us;
    for (int i = 0; i < std::max(1, iters); ++i) {
      TUTTI_ASSIGN_OR_RETURN(double t, remote->client().Echo(out, back));
      us.push_back(t);
    }
    return Median(us);
  };
  TUTTI_RETURN_IF_ERROR(remote->client().Echo(0, 0).status().WithContext("link to " + dev.name));  // warm
  Link l;
  TUTTI_ASSIGN_OR_RETURN(l.rtt_us, median_echo(0, 0));
  TUTTI_ASSIGN_OR_RETURN(double up, median_echo(kProbe, 0));
  TUTTI_ASSIGN_OR_RETURN(double down, median_echo(0, kProbe));
  l.up_us_per_byte = std::max(0.0, up - l.rtt_us) / kProbe;
  l.down_us_per_byte = std::max(0.0, down - l.rtt_us) / kProbe;
  return l;
}

// Runs work(d) for every device: remote devices side by side, one thread each -- they have their
// own processors and links, so profiling them together costs the slowest one's time rather than
// the sum (and uploads each device's weights over its own link at once) -- and local devices one
// after another on this thread, since they share this process. The first failure wins.
Status ForEachDevice(const std::vector<SpatialDevice>& devices, const std::function<Status(size_t)>& work) {
  std::vector<Status> status(devices.size());
  std::vector<std::thread> threads;
  for (size_t d = 0; d < devices.size(); ++d)
    if (dynamic_cast<RemoteBackend*>(devices[d].backend.get()))
      threads.emplace_back([&status, &work, d] { status[d] = work(d); });
  for (size_t d = 0; d < devices.size(); ++d)
    if (!dynamic_cast<RemoteBackend*>(devices[d].backend.get())) status[d] = work(d);
  for (auto& t : threads) t.join();
  for (const Status& s : status) TUTTI_RETURN_IF_ERROR(s);
  return Status::Ok();
}

Result<size_t> OutputBytes(const Graph& g) {
  const Value& v = g.value(g.outputs().at(0));
  auto shape = v.info.shape ? ToConcrete(*v.info.shape) : std::nullopt;
  if (!shape) return InvalidArgument("'", g.name, "': output '", v.name, "' has no concrete shape");
  size_t n = DataTypeSize(v.info.dtype);
  for (int64_t d : *shape) n *= static_cast<size_t>(d);
  return n;
}

// Compute time of `exe` on `input`: a remote part runs on worker-made inputs (no transfer); a
// local one is timed here.
Result<double> ComputeUs(Executable& exe, const Tensor& input, int warmup, int iters, const std::string& what) {
  if (auto* remote = dynamic_cast<RemoteExecutable*>(&exe)) {
    auto r = remote->client().Profile(remote->part_id(), warmup, iters);
    if (!r.ok()) return r.status().WithContext(what);
    return r->median_us;
  }
  std::vector<double> us;
  for (int i = 0; i < warmup + iters; ++i) {
    std::vector<Tensor> out;
    auto t0 = Clock::now();
    TUTTI_RETURN_IF_ERROR(exe.Run({&input, 1}, out).WithContext(what));
    if (i >= warmup) us.push_back(MicrosSince(t0));
  }
  return Median(us);
}

// One device computing rows `out_rows` of units [first, last) alone: compute profiled, transfers
// from the link model and the band's bytes.
Result<BandCost> MeasureBand(const Graph& g, const std::vector<Unit>& units, const SpatialDevice& dev, const Link& link,
                             size_t first, size_t last, RowRange out_rows, const Tensor& input, int warmup, int iters) {
  TUTTI_ASSIGN_OR_RETURN(Tile tile, BuildTile(g, units, first, last, out_rows));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, dev.backend->Compile(tile.graph, dev.options));
  TUTTI_ASSIGN_OR_RETURN(Tensor band, SliceRows(input, tile.in_rows));
  TUTTI_ASSIGN_OR_RETURN(size_t out_bytes, OutputBytes(tile.graph));
  BandCost c;
  TUTTI_ASSIGN_OR_RETURN(c.run_us, ComputeUs(*exe, band, warmup, iters, tile.graph.name + " on " + dev.name));
  c.set_us = link.SetUs(band.nbytes());
  c.get_us = link.GetUs(out_bytes);
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
  auto t_phase = Clock::now();
  auto phase_done = [&t_phase](double& s) {
    s = MicrosSince(t_phase) / 1e6;
    t_phase = Clock::now();
  };
  // The whole model compiled on every remote device first: its weights cross each link once, all
  // links at once, and the whole-model candidate later finds its part prepared.
  TUTTI_RETURN_IF_ERROR(ForEachDevice(devices, [&](size_t d) -> Status {
    if (!dynamic_cast<RemoteBackend*>(devices[d].backend.get())) return Status::Ok();
    return devices[d].backend->Compile(g, devices[d].options).status().WithContext("the model on " + devices[d].name);
  }));
  phase_done(t.phases.upload_s);
  std::vector<Link> links(nd);
  TUTTI_RETURN_IF_ERROR(ForEachDevice(devices, [&](size_t d) -> Status {
    TUTTI_ASSIGN_OR_RETURN(links[d], ProfileLink(devices[d], options.iters));
    return Status::Ok();
  }));
  phase_done(t.phases.link_s);
  // us per byte -> Mbit/s: 8 bits / (us per byte) = bits per us = Mbit/s.
  auto mbit_s = [](double us_per_byte) { return us_per_byte > 0 ? 8 / us_per_byte : 0.0; };
  for (const Link& l : links) {
    t.link_up_mbit_s.push_back(mbit_s(l.up_us_per_byte));
    t.link_down_mbit_s.push_back(mbit_s(l.down_us_per_byte));
  }
  auto pass = [&](const std::vector<double>& speeds, int iters) -> Status {
    t.ZeroMatrices(nd, n);
    return ForEachDevice(devices, [&](size_t d) -> Status {
      for (size_t u = 0; u < n; ++u) {
        const RowRange band = ProfiledBand(units[u], speeds, d);
        if (band.empty()) continue;
        TUTTI_ASSIGN_OR_RETURN(BandCost c, MeasureBand(g, units, devices[d], links[d], u, u + 1, band, inputs[u],
                                                       options.warmup, iters));
        t.set_us[d][u] = c.set_us;
        t.run_us[d][u] = c.run_us;
        t.get_us[d][u] = c.get_us;
        t.out_rows[d][u] = band.size();
      }
      return Status::Ok();
    });
  };
  t.speeds = options.speeds;
  if (t.speeds.size() != nd) {
    // First pass at equal shares: a device's speed is the rows it computes per microsecond. One
    // timed run per unit is enough: the speed sums every unit, so a unit's run-to-run spread
    // (a few percent) averages out, and only the shares -- rounded to rows -- depend on it.
    TUTTI_RETURN_IF_ERROR(pass(std::vector<double>(nd, 1.0), 1));
    t.speeds.assign(nd, 0);
    for (size_t d = 0; d < nd; ++d) {
      double us = 0, rows = 0;
      for (size_t u = 0; u < n; ++u) us += t.run_us[d][u], rows += static_cast<double>(t.out_rows[d][u]);
      t.speeds[d] = us > 0 ? rows / us : 0;
    }
    phase_done(t.phases.speed_pass_s);
  }
  TUTTI_RETURN_IF_ERROR(pass(t.speeds, options.iters));
  phase_done(t.phases.share_pass_s);
  t.head_us.assign(nd, 0);
  t.head_run_us.assign(nd, 0);
  t.output_get_us.assign(nd, 0);
  if (n == units.size()) {  // no head: the model's output is the last unit's, whose shape is known
    TUTTI_ASSIGN_OR_RETURN(size_t out_bytes, OutputBytes(g));
    for (size_t d = 0; d < nd; ++d) t.output_get_us[d] = links[d].GetUs(out_bytes);
  } else {
    TUTTI_ASSIGN_OR_RETURN(Graph head, BuildHead(g, units, n));
    TUTTI_ASSIGN_OR_RETURN(Tensor x, UnitInput(g, units[n]));
    TUTTI_RETURN_IF_ERROR(ForEachDevice(devices, [&](size_t d) -> Status {
      const std::string what = "head on " + devices[d].name;
      TUTTI_ASSIGN_OR_RETURN(auto exe, devices[d].backend->Compile(head, devices[d].options));
      std::vector<Tensor> out;  // one real run: the model's output size (and a warm-up)
      TUTTI_RETURN_IF_ERROR(exe->Run({&x, 1}, out).WithContext(what));
      if (out.size() != 1) return InvalidArgument(what, ": the head returned ", out.size(), " outputs, not 1");
      TUTTI_ASSIGN_OR_RETURN(t.head_run_us[d], ComputeUs(*exe, x, options.warmup, options.iters, what));
      t.output_get_us[d] = links[d].GetUs(out[0].nbytes());
      t.head_us[d] = links[d].SetUs(x.nbytes()) + t.head_run_us[d] + t.output_get_us[d];
      return Status::Ok();
    }));
  }
  phase_done(t.phases.head_s);
  t.profile_s = MicrosSince(t_start) / 1e6;
  return t;
}

void CostTables::ZeroMatrices(size_t devices, size_t units) {
  set_us.assign(devices, std::vector<double>(units, 0));
  get_us = run_us = set_us;
  out_rows.assign(devices, std::vector<int64_t>(units, 0));
}

std::string CostTables::ToJson() const {
  nlohmann::json j;
  j["format"] = "tutti-spatial-cost-2";
  j["model_fingerprint"] = std::to_string(model_fingerprint);
  j["devices"] = devices;
  j["speeds"] = speeds;
  j["units"] = units;
  j["set_us"] = Matrix(set_us);
  j["get_us"] = Matrix(get_us);
  j["run_us"] = Matrix(run_us);
  j["out_rows"] = Matrix(out_rows);
  j["head_us"] = head_us;
  j["head_run_us"] = head_run_us;
  j["output_get_us"] = output_get_us;
  j["profile_s"] = profile_s;
  j["link_up_mbit_s"] = link_up_mbit_s;
  j["link_down_mbit_s"] = link_down_mbit_s;
  j["profile_phases_s"] = {{"upload", phases.upload_s}, {"link", phases.link_s}, {"speed_pass", phases.speed_pass_s},
                           {"share_pass", phases.share_pass_s}, {"head", phases.head_s}};
  return j.dump(1);
}

Result<CostTables> CostTables::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("spatial cost tables: not a JSON object");
  if (j.value("format", "") != "tutti-spatial-cost-2")
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
  TUTTI_RETURN_IF_ERROR(field("head_run_us", t.head_run_us));
  TUTTI_RETURN_IF_ERROR(field("output_get_us", t.output_get_us));
  t.profile_s = j.value("profile_s", 0.0);
  if (j.contains("profile_phases_s") && j["profile_phases_s"].is_object()) {  // informational; older files lack it
    const auto& ph = j["profile_phases_s"];
    auto seconds = [&ph](const char* k) { return ph.contains(k) && ph[k].is_number() ? ph[k].get<double>() : 0.0; };
    t.phases.upload_s = seconds("upload");
    t.phases.link_s = seconds("link");
    t.phases.speed_pass_s = seconds("speed_pass");
    t.phases.share_pass_s = seconds("share_pass");
    t.phases.head_s = seconds("head");
  }
  const size_t nd = t.devices.size();
  for (auto* m : {&t.set_us, &t.get_us, &t.run_us})
    if (m->size() != nd) return InvalidArgument("spatial cost tables: a matrix does not have one row per device");
  if (t.out_rows.size() != nd || t.speeds.size() != nd || t.head_us.size() != nd || t.head_run_us.size() != nd ||
      t.output_get_us.size() != nd)
    return InvalidArgument(
        "spatial cost tables: speeds/out_rows/head_us/head_run_us/output_get_us do not have one entry per device");
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

Result<int64_t> CostPredictor::ProfiledInputRows(size_t u, size_t d) const {
  const Unit& unit = units_[u];
  TUTTI_ASSIGN_OR_RETURN(auto heights, PropagateHeights(g_, unit.nodes, unit.input, unit.in_h));
  TUTTI_ASSIGN_OR_RETURN(auto need, RequiredRows(g_, unit.nodes, unit.output, ProfiledBand(unit, tables_.speeds, d), heights));
  return need.at(unit.input).size();
}

Result<double> CostPredictor::BandUs(size_t first, size_t last, const std::vector<int64_t>& rows, size_t d,
                                     bool fetch) const {
  if (first >= last || last > tables_.run_us.at(0).size()) return InvalidArgument("group [", first, ",", last, ") outside the tables");
  if (d >= tables_.run_us.size()) return InvalidArgument("device ", d, " is not in the tables");
  std::vector<NodeId> nodes;
  for (size_t u = first; u < last; ++u) nodes.insert(nodes.end(), units_[u].nodes.begin(), units_[u].nodes.end());
  TUTTI_ASSIGN_OR_RETURN(auto heights, PropagateHeights(g_, nodes, units_[first].input, units_[first].in_h));
  TUTTI_ASSIGN_OR_RETURN(auto need, RequiredRows(g_, nodes, units_[last - 1].output, ShareRange(rows, d), heights));
  // Alpha for the input transfer: the fused band's input rows over the profiled band's.
  TUTTI_ASSIGN_OR_RETURN(int64_t profiled_in, ProfiledInputRows(first, d));
  double us = tables_.set_us[d][first] * static_cast<double>(need.at(units_[first].input).size()) /
              static_cast<double>(std::max<int64_t>(1, profiled_in));
  for (size_t k = first; k < last; ++k) us += RunUs(d, k, need.at(units_[k].output).size());
  if (fetch)
    us += tables_.get_us[d][last - 1] * static_cast<double>(rows[d]) /
          static_cast<double>(std::max<int64_t>(1, tables_.out_rows[d][last - 1]));
  return us;
}

double CostPredictor::RunUs(size_t d, size_t u, int64_t rows) const {
  return tables_.run_us[d][u] * static_cast<double>(rows) / static_cast<double>(std::max<int64_t>(1, tables_.out_rows[d][u]));
}

Result<double> CostPredictor::GroupUs(size_t first, size_t last, const std::vector<int64_t>& rows) const {
  double worst = 0;
  for (size_t d = 0; d < rows.size(); ++d) {
    if (rows[d] == 0) continue;
    TUTTI_ASSIGN_OR_RETURN(double us, BandUs(first, last, rows, d, /*fetch=*/true));
    worst = std::max(worst, us);
  }
  return worst;
}

Result<double> CostPredictor::SingleDeviceUs(int device) const {
  const size_t d = static_cast<size_t>(device), n = tables_.run_us.at(0).size();
  if (device < 0 || d >= tables_.run_us.size()) return InvalidArgument("device ", device, " is not in the tables");
  // The unsplit model computes every row of every unit (a band computes only the rows its output
  // needs), takes the whole input, and hands the body's output to the head on the same device.
  TUTTI_ASSIGN_OR_RETURN(int64_t profiled_in, ProfiledInputRows(0, d));
  double us = tables_.set_us[d][0] * static_cast<double>(units_[0].in_h) /
              static_cast<double>(std::max<int64_t>(1, profiled_in));
  for (size_t k = 0; k < n; ++k) {
    if (tables_.out_rows[d][k] == 0)
      return InvalidArgument("device ", tables_.devices[d], " has no time for unit ", units_[k].label);
    us += RunUs(d, k, units_[k].out_h);
  }
  return us + tables_.head_run_us[d] + tables_.output_get_us[d];
}

Result<std::pair<int, double>> CostPredictor::BestSingleDevice() const {
  std::pair<int, double> best{-1, std::numeric_limits<double>::infinity()};
  Status last_error;
  for (size_t d = 0; d < tables_.run_us.size(); ++d) {
    auto us = SingleDeviceUs(static_cast<int>(d));
    if (!us.ok()) {  // a device profiled at speed 0 cannot be judged, so it is no candidate
      last_error = us.status();
      continue;
    }
    if (*us < best.second) best = {static_cast<int>(d), *us};
  }
  if (best.first < 0)
    return last_error.ok() ? InvalidArgument("the cost tables have no device")
                           : last_error.WithContext("no device can run the whole model");
  return best;
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
