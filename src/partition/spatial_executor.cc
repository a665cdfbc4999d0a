#include "partition/spatial_executor.h"

#include <cstdio>
#include <thread>

namespace tutti::spatial {

Result<std::vector<SpatialDevice>> OpenDevices(const std::vector<std::string>& names,
                                               std::vector<std::string>* warnings) {
  std::vector<SpatialDevice> devices;
  for (const std::string& name : names) {
    auto backend = CreateBackend(name);
    if (!backend.ok()) {
      std::string w = StrCat("device '", name, "' left out: ", backend.status().message());
      std::fprintf(stderr, "tutti: warning: %s\n", w.c_str());
      if (warnings) warnings->push_back(w);
      continue;
    }
    devices.push_back(SpatialDevice{name, std::shared_ptr<Backend>(std::move(backend).value()), 1.0, {}});
  }
  if (devices.empty()) return Unavailable("none of the ", names.size(), " devices could be opened");
  return devices;
}

bool IsDeviceFailure(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kDeviceError || s.code() == StatusCode::kCancelled;
}

SpatialExecutor::SpatialExecutor(const Graph& g, std::vector<Unit> units, std::vector<SpatialDevice> devices,
                                 SpatialPlan plan)
    : g_(g), units_(std::move(units)), devices_(std::move(devices)), alive_(devices_.size(), true),
      plan_(std::move(plan)) {}

Result<std::unique_ptr<SpatialExecutor>> SpatialExecutor::Create(const Graph& g, std::vector<SpatialDevice> devices,
                                                                 SpatialPlan plan) {
  if (devices.empty()) return InvalidArgument("spatial split: no devices");
  TUTTI_ASSIGN_OR_RETURN(std::vector<Unit> units, FindUnits(g));
  // Groups are contiguous; they start at unit 0 for whole-model runs, anywhere for measuring.
  size_t next = plan.groups.empty() ? plan.head_first : plan.groups.front().first;
  for (const Group& gr : plan.groups) {
    if (gr.first != next || gr.last <= gr.first || gr.last > units.size() || !units[gr.last - 1].splittable)
      return InvalidArgument("spatial plan: groups must cover splittable units in order (group at unit ", gr.first, ")");
    if (gr.rows.size() != devices.size())
      return InvalidArgument("spatial plan: a group has shares for ", gr.rows.size(), " devices, there are ",
                             devices.size());
    int64_t sum = 0;
    for (int64_t r : gr.rows) {
      if (r < 0) return InvalidArgument("spatial plan: negative share");
      sum += r;
    }
    if (sum != units[gr.last - 1].out_h)
      return InvalidArgument("spatial plan: shares of group at unit ", gr.first, " add up to ", sum, " rows, not ",
                             units[gr.last - 1].out_h);
    next = gr.last;
  }
  if (next != plan.head_first) return InvalidArgument("spatial plan: the head must start after the last group");
  if (plan.head_device < 0 || static_cast<size_t>(plan.head_device) >= devices.size())
    return InvalidArgument("spatial plan: head device ", plan.head_device, " does not exist");
  return std::unique_ptr<SpatialExecutor>(new SpatialExecutor(g, std::move(units), std::move(devices), std::move(plan)));
}

std::vector<std::string> SpatialExecutor::events() const {
  std::lock_guard<std::mutex> lock(events_mu_);
  return events_;
}

void SpatialExecutor::Log(const std::string& line) {
  std::fprintf(stderr, "tutti: spatial: %s\n", line.c_str());
  std::lock_guard<std::mutex> lock(events_mu_);
  events_.push_back(line);
}

void SpatialExecutor::DropDevice(size_t d, const std::string& where, const Status& why) {
  alive_[d] = false;
  std::vector<double> speeds;
  size_t left = 0, fastest = 0;
  for (size_t i = 0; i < devices_.size(); ++i) {
    speeds.push_back(alive_[i] ? devices_[i].speed : 0.0);
    if (alive_[i]) {
      ++left;
      if (!alive_[fastest] || devices_[i].speed > devices_[fastest].speed) fastest = i;
    }
  }
  Log(StrCat("device ", devices_[d].name, " failed in ", where, " (", why.message(), "); re-planning over ", left,
             " remaining device", left == 1 ? "" : "s"));
  if (left == 0) return;
  for (Group& gr : plan_.groups) gr.rows = ProportionalShares(units_[gr.last - 1].out_h, speeds);
  if (!alive_[static_cast<size_t>(plan_.head_device)]) plan_.head_device = static_cast<int>(fastest);
  // Tiles of the dropped device are useless now; tiles of others stay cached for their new bands.
  for (auto it = tiles_.begin(); it != tiles_.end();) it = std::get<1>(it->first) == d ? tiles_.erase(it) : std::next(it);
  heads_.erase(d);
  wholes_.erase(d);
}

Result<const SpatialExecutor::CompiledTile*> SpatialExecutor::TileExecutable(size_t gi, size_t d, RowRange out_rows) {
  auto key = std::make_tuple(gi, d, out_rows.begin, out_rows.end);
  auto it = tiles_.find(key);
  if (it != tiles_.end()) return &it->second;
  const Group& gr = plan_.groups[gi];
  TUTTI_ASSIGN_OR_RETURN(Tile tile, BuildTile(g_, units_, gr.first, gr.last, out_rows));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, devices_[d].backend->Compile(tile.graph, devices_[d].options));
  return &(tiles_[key] = CompiledTile{std::move(exe), tile.in_rows});
}

Status SpatialExecutor::RunGroup(size_t gi, const Tensor& input, Tensor& output) {
  for (size_t attempt = 0; attempt <= devices_.size(); ++attempt) {
    const Group& gr = plan_.groups[gi];
    struct Job {
      size_t device;
      RowRange out_rows, in_rows;
      Executable* exe = nullptr;
      Tensor in;
      std::vector<Tensor> out;
      Status status;
    };
    std::vector<Job> jobs;
    bool dropped = false;
    for (size_t d = 0; d < devices_.size() && !dropped; ++d) {
      if (!alive_[d] || gr.rows[d] == 0) continue;
      Job job{d, ShareRange(gr.rows, d), {}};
      auto exe = TileExecutable(gi, d, job.out_rows);
      if (!exe.ok()) {
        if (!IsDeviceFailure(exe.status())) return exe.status().WithContext(StrCat("group ", gi, " on ", devices_[d].name));
        DropDevice(d, StrCat("preparing group ", gi), exe.status());
        dropped = true;
        break;
      }
      job.exe = (*exe)->exe.get();
      job.in_rows = (*exe)->in_rows;
      jobs.push_back(std::move(job));
    }
    if (dropped) continue;
    if (jobs.empty()) return Unavailable("no device is left to run group ", gi);
    for (Job& job : jobs) { TUTTI_ASSIGN_OR_RETURN(job.in, SliceRows(input, job.in_rows)); }
    std::vector<std::thread> threads;
    for (size_t j = 1; j < jobs.size(); ++j)
      threads.emplace_back([&jobs, j] { jobs[j].status = jobs[j].exe->Run({&jobs[j].in, 1}, jobs[j].out); });
    jobs[0].status = jobs[0].exe->Run({&jobs[0].in, 1}, jobs[0].out);
    for (std::thread& t : threads) t.join();
    for (Job& job : jobs) {
      if (job.status.ok()) continue;
      if (!IsDeviceFailure(job.status))
        return job.status.WithContext(StrCat("group ", gi, " on ", devices_[job.device].name));
      DropDevice(job.device, StrCat("group ", gi), job.status);
      dropped = true;
    }
    if (dropped) continue;  // run the whole group again over the remaining devices
    const Tensor& first = jobs[0].out.at(0);
    Shape shape = first.shape();
    shape[2] = units_[gr.last - 1].out_h;
    TUTTI_ASSIGN_OR_RETURN(output, Tensor::Allocate(first.dtype(), shape));
    for (Job& job : jobs) {
      if (job.out.size() != 1 || job.out[0].rank() != 4 || job.out[0].dim(2) != job.out_rows.size())
        return Internal("group ", gi, " on ", devices_[job.device].name, ": a band of ", job.out_rows.size(),
                        " rows came back as ", job.out.empty() ? "nothing" : job.out[0].DebugString());
      TUTTI_RETURN_IF_ERROR(PasteRows(job.out[0], job.out_rows.begin, output));
    }
    return Status::Ok();
  }
  return Unavailable("group ", gi, ": every device failed");
}

Status SpatialExecutor::RunHead(const Tensor& input, Tensor& output) {
  for (size_t attempt = 0; attempt <= devices_.size(); ++attempt) {
    size_t d = static_cast<size_t>(plan_.head_device);
    if (!alive_[d]) return Unavailable("no device is left to run the head");
    auto it = heads_.find(d);
    if (it == heads_.end()) {
      auto head = BuildHead(g_, units_, plan_.head_first);
      if (!head.ok()) return head.status();
      auto exe = devices_[d].backend->Compile(*head, devices_[d].options);
      if (!exe.ok()) {
        if (!IsDeviceFailure(exe.status())) return exe.status().WithContext("head on " + devices_[d].name);
        DropDevice(d, "preparing the head", exe.status());
        continue;
      }
      it = heads_.emplace(d, std::move(exe).value()).first;
    }
    std::vector<Tensor> out;
    Status s = it->second->Run({&input, 1}, out);
    if (s.ok()) {
      output = out.at(0);
      return Status::Ok();
    }
    if (!IsDeviceFailure(s)) return s.WithContext("head on " + devices_[d].name);
    DropDevice(d, "the head", s);
  }
  return Unavailable("the head: every device failed");
}

Status SpatialExecutor::RunGroups(size_t first, size_t last, const Tensor& input, Tensor& output) {
  Tensor cur = input;
  for (size_t gi = first; gi < last; ++gi) {
    Tensor next;
    TUTTI_RETURN_IF_ERROR(RunGroup(gi, cur, next));
    cur = std::move(next);
  }
  output = cur;
  return Status::Ok();
}

Status SpatialExecutor::RunWhole(size_t d, const Tensor& input, Tensor& output) {
  auto it = wholes_.find(d);
  if (it == wholes_.end()) {
    TUTTI_ASSIGN_OR_RETURN(auto exe, devices_[d].backend->Compile(g_, devices_[d].options));
    it = wholes_.emplace(d, std::move(exe)).first;
  }
  std::vector<Tensor> out;
  TUTTI_RETURN_IF_ERROR(it->second->Run({&input, 1}, out));
  if (out.size() != 1) return Internal("the whole model on ", devices_[d].name, " returned ", out.size(), " outputs");
  output = std::move(out[0]);
  return Status::Ok();
}

Status SpatialExecutor::Run(const Tensor& input, Tensor& output) {
  if (!plan_.groups.empty() && plan_.groups.front().first != 0)
    return InvalidArgument("spatial plan starts at unit ", plan_.groups.front().first, ", not at the model's input");
  // Everything on one device: one call, exactly what that device alone costs. A device failure
  // drops it and re-plans over the rest, which then run the groups below.
  for (int sole = SoleDevice(plan_); sole >= 0 && alive_[static_cast<size_t>(sole)]; sole = SoleDevice(plan_)) {
    const size_t d = static_cast<size_t>(sole);
    Status s = RunWhole(d, input, output);
    if (s.ok()) return s;
    if (!IsDeviceFailure(s)) return s.WithContext("the whole model on " + devices_[d].name);
    DropDevice(d, "the whole model", s);
  }
  Tensor cur;
  TUTTI_RETURN_IF_ERROR(RunGroups(0, plan_.groups.size(), input, cur));
  if (plan_.head_first >= units_.size()) {
    output = cur;
    return Status::Ok();
  }
  return RunHead(cur, output);
}

}  // namespace tutti::spatial
