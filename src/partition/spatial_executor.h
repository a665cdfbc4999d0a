// Runs a SpatialPlan: per group, every device computes its band of output rows (in parallel),
// the coordinator gathers them and re-splits for the next group; the head runs on one device.
// A plan that puts everything on one device (SoleDevice) runs as one call of the whole model there
// -- one input sent, one output fetched, no bands, halos or gathers -- so it costs what that device
// alone costs.
//
// Faults (issue 7): a device whose tile fails with a transport error (a killed or cut-off worker:
// kUnavailable, kDeadlineExceeded, kDeviceError) is dropped, the event is logged, the shares of
// every group are recomputed over the remaining devices and the group is run again from its input,
// which the coordinator still holds -- so the request completes and nothing is lost. Remote tiles
// fail within their connection's Run deadline (remote/client.h), which bounds how long noticing
// takes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "partition/spatial.h"

namespace tutti::spatial {

struct SpatialDevice {
  std::string name;                  // "cpu", "remote:10.0.0.2:7000"
  std::shared_ptr<Backend> backend;
  double speed = 1;                  // relative; shares are proportional to it
  CompileOptions options;
};

// Creates a backend per device string; devices that cannot be opened (an unreachable worker) are
// left out with a warning in `warnings`. Fails only when none is left.
Result<std::vector<SpatialDevice>> OpenDevices(const std::vector<std::string>& names,
                                               std::vector<std::string>* warnings);

// Whether a tile's failure means its device is gone (rather than a bad model or input).
bool IsDeviceFailure(const Status& s);

class SpatialExecutor {
 public:
  // `g` must stay alive as long as the executor. Shares in `plan` are taken as given; after a
  // failure they are recomputed from the devices' speeds.
  static Result<std::unique_ptr<SpatialExecutor>> Create(const Graph& g, std::vector<SpatialDevice> devices,
                                                         SpatialPlan plan);

  // The whole model on one input. Thread-compatible (one Run at a time).
  Status Run(const Tensor& input, Tensor& output);
  // Only groups [first, last) (no head): for profiling and tests. `output` is the last group's.
  Status RunGroups(size_t first, size_t last, const Tensor& input, Tensor& output);

  const SpatialPlan& plan() const { return plan_; }
  const std::vector<Unit>& units() const { return units_; }
  const std::vector<SpatialDevice>& devices() const { return devices_; }
  bool alive(size_t device) const { return alive_[device]; }
  // Faults noticed and re-plans done, one line each, oldest first.
  std::vector<std::string> events() const;

 private:
  SpatialExecutor(const Graph& g, std::vector<Unit> units, std::vector<SpatialDevice> devices, SpatialPlan plan);
  Status RunGroup(size_t gi, const Tensor& input, Tensor& output);
  Status RunHead(const Tensor& input, Tensor& output);
  // The whole model as one call on device d. Fails with the device's status (the caller re-plans).
  Status RunWhole(size_t d, const Tensor& input, Tensor& output);
  struct CompiledTile {
    std::unique_ptr<Executable> exe;
    RowRange in_rows;  // the band of the group's input it reads
  };
  Result<const CompiledTile*> TileExecutable(size_t gi, size_t d, RowRange out_rows);
  void DropDevice(size_t d, const std::string& where, const Status& why);
  void Log(const std::string& line);

  const Graph& g_;
  std::vector<Unit> units_;
  std::vector<SpatialDevice> devices_;
  std::vector<bool> alive_;
  SpatialPlan plan_;
  // (group, device, first row, end row) -> compiled tile; compiled on first use.
  std::map<std::tuple<size_t, size_t, int64_t, int64_t>, CompiledTile> tiles_;
  std::map<size_t, std::unique_ptr<Executable>> heads_;  // by device
  std::map<size_t, std::unique_ptr<Executable>> wholes_;  // the whole model, by device
  mutable std::mutex events_mu_;  // guards events_ (tile threads log)
  std::vector<std::string> events_;
};

}  // namespace tutti::spatial
