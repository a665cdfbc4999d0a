#include "engine/processor.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "backends/cpu/asymmetric/topology.h"

namespace tutti {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string JoinOps(const std::vector<std::string>& ops) {
  std::string out;
  for (const std::string& op : ops) out += (out.empty() ? "" : ",") + op;
  return out;
}

}  // namespace

std::string ProcessorSpec::ProfileKey() const {
  std::string key = device + "/threads=" + std::to_string(threads);
  if (!cpu_cores.empty()) key += "/cores=" + FormatCoreList(cpu_cores);
  return key;
}

std::string ProcessorSpec::MemoryDomain() const {
  return device.rfind("cpu", 0) == 0 ? "host" : device;
}

std::string ProcessorSpec::Describe() const {
  std::ostringstream os;
  os << name << ": " << device;
  if (!cluster.empty()) os << " (" << cluster << ")";
  if (!cpu_cores.empty()) os << ", cores " << FormatCoreList(cpu_cores);
  os << ", " << threads << (threads == 1 ? " thread" : " threads");
  if (!allow_ops.empty()) os << ", allow [" << JoinOps(allow_ops) << "]";
  if (!deny_ops.empty()) os << ", deny [" << JoinOps(deny_ops) << "]";
  return os.str();
}

Result<std::unique_ptr<Processor>> Processor::Create(ProcessorSpec spec) {
  if (spec.name.empty()) return InvalidArgument("processor with device '", spec.device, "' has no name");
  if (spec.threads < 1) return InvalidArgument("processor '", spec.name, "': threads must be >= 1, got ", spec.threads);
  if (!spec.cpu_cores.empty()) {
    std::vector<int> allowed = AllowedCpuCores();
    for (int c : spec.cpu_cores)
      if (!std::binary_search(allowed.begin(), allowed.end(), c))
        return InvalidArgument("processor '", spec.name, "': core ", c, " is not available (this process may use ",
                               FormatCoreList(allowed), ")");
  }
  auto backend = CreateBackend(spec.device);
  if (!backend.ok()) return backend.status().WithContext(StrCat("processor '", spec.name, "'"));
  return std::unique_ptr<Processor>(new Processor(std::move(spec), std::move(backend).value()));
}

CompileOptions Processor::compile_options() const {
  CompileOptions o;
  o.threads = spec_.threads;
  o.cpu_cores = spec_.cpu_cores;
  return o;
}

bool Processor::SupportsNode(const Graph& graph, const Node& node) const {
  if (!spec_.allow_ops.empty() && !Contains(spec_.allow_ops, node.op_type)) return false;
  if (Contains(spec_.deny_ops, node.op_type)) return false;
  return backend_->SupportsNode(graph, node);
}

Status Processor::PinCurrentThread() const {
  if (spec_.cpu_cores.empty()) return Status::Ok();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : spec_.cpu_cores) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    return Unavailable("processor '", spec_.name, "': cannot pin to cores ", FormatCoreList(spec_.cpu_cores), ": ",
                       std::strerror(errno));
  return Status::Ok();
}

std::vector<int> AllowedCpuCores() { return cpu::asymmetric::AllowedCores(); }

std::vector<ProcessorSpec> DiscoverProcessors() {
  // Core clusters come from the asymmetric-CPU topology (hwloc CPU kinds, then sysfs capacity and
  // max frequency), fastest first; if it cannot tell, every allowed core is one processor.
  std::vector<cpu::asymmetric::CoreCluster> clusters;
  if (auto topo = cpu::asymmetric::DetectCpuTopology(); topo.ok()) clusters = topo->clusters;
  if (clusters.empty()) clusters.push_back({"core", AllowedCpuCores()});
  std::vector<ProcessorSpec> specs;
  for (size_t i = 0; i < clusters.size(); ++i) {
    ProcessorSpec s;
    s.name = clusters.size() == 1 ? "cpu" : "cpu" + std::to_string(i);
    s.cluster = clusters[i].kind;
    s.cpu_cores = clusters[i].cores;
    s.threads = static_cast<int>(clusters[i].cores.size());
    specs.push_back(std::move(s));
  }
  // CUDA devices, if a CUDA backend is registered: probe cuda:0, cuda:1, ... until one is refused.
  for (int d = 0; d < 64; ++d) {
    std::string dev = "cuda:" + std::to_string(d);
    if (!CreateBackend(dev).ok()) break;
    ProcessorSpec s;
    s.name = dev;
    s.device = dev;
    specs.push_back(std::move(s));
  }
  return specs;
}

std::string FormatCoreList(const std::vector<int>& cores) {
  std::vector<int> sorted = cores;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(sorted[i]);
    if (j > i) out += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return out;
}

Result<std::vector<int>> ParseCoreList(const std::string& text) {
  std::vector<int> cores;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    size_t dash = part.find('-');
    try {
      size_t used = 0;
      int a = std::stoi(part.substr(0, dash), &used);
      int b = dash == std::string::npos ? a : std::stoi(part.substr(dash + 1));
      if (a < 0 || b < a || b >= CPU_SETSIZE) throw std::out_of_range("range");
      for (int c = a; c <= b; ++c) cores.push_back(c);
    } catch (const std::exception&) {
      return InvalidArgument("bad core list '", text, "' (expected e.g. \"0-3,6\")");
    }
  }
  if (cores.empty()) return InvalidArgument("empty core list");
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
  return cores;
}

}  // namespace tutti
