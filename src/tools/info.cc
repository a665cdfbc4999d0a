// `tutti info MODEL`: what a model is (inputs, outputs, opsets, operators) and which of its
// operators each backend of this build can run -- the first thing to look at when a model fails.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

std::map<std::string, int> OperatorCounts(const Graph& g) {
  std::map<std::string, int> counts;
  for (size_t i = 0; i < g.node_count(); ++i) {
    const Node& n = g.node(static_cast<NodeId>(i));
    if (!n.removed) ++counts[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type];
  }
  return counts;
}

Json Specs(const Graph& g, const std::vector<ValueId>& ids) {
  Json j = Json::array();
  for (ValueId id : ids) {
    const Value& v = g.value(id);
    j.push_back({{"name", v.name}, {"dtype", DataTypeName(v.info.dtype)}, {"shape", SymbolicShapeJson(v.info.shape)}});
  }
  return j;
}

// Support of one backend for the graph as it would run (after optimisation).
Json BackendSupport(const std::string& device, const Graph& g) {
  Json j{{"device", device}};
  auto backend = CreateBackend(device);
  if (!backend.ok()) {
    j["available"] = false;
    j["reason"] = backend.status().message();
    return j;
  }
  j["available"] = true;
  std::map<std::string, int> supported;
  std::map<std::string, std::pair<int, std::string>> unsupported;  // op -> (nodes, first node's name)
  for (size_t i = 0; i < g.node_count(); ++i) {
    const Node& n = g.node(static_cast<NodeId>(i));
    if (n.removed) continue;
    std::string op = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
    if ((*backend)->SupportsNode(g, n)) {
      ++supported[op];
    } else {
      auto& u = unsupported[op];
      if (u.first++ == 0) u.second = n.name;
    }
  }
  j["supported"] = supported;
  j["unsupported"] = Json::array();
  for (const auto& [op, u] : unsupported) j["unsupported"].push_back({{"op", op}, {"nodes", u.first}, {"example", u.second}});
  return j;
}

void PrintText(const Json& j) {
  std::printf("model     %s\n", j["model"].get<std::string>().c_str());
  std::string opsets;
  for (const auto& [domain, version] : j["opsets"].items())
    opsets += (opsets.empty() ? "" : ", ") + (domain.empty() ? std::string("ai.onnx") : domain) + " " + version.dump();
  std::printf("opsets    %s\n", opsets.c_str());
  for (const char* kind : {"inputs", "outputs"}) {
    std::printf("%-9s\n", kind);
    for (const auto& v : j[kind])
      std::printf("  %-24s %-8s %s\n", v["name"].get<std::string>().c_str(), v["dtype"].get<std::string>().c_str(),
                  v["shape"].dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
  }
  std::printf("nodes     %d as loaded", j["nodes"].get<int>());
  if (j.contains("optimized_nodes")) std::printf(", %d after optimisation", j["optimized_nodes"].get<int>());
  std::printf("\noperators");
  int col = 0;
  for (const auto& [op, count] : j["operators"].items()) std::printf("%s%s %d", col++ % 6 ? "  " : "\n  ", op.c_str(), count.get<int>());
  std::printf("\n");
  if (j.contains("optimize_error")) std::printf("optimisation failed: %s\n", j["optimize_error"].get<std::string>().c_str());
  std::printf("backends  (for the graph as it runs%s)\n", j.contains("optimized_nodes") ? ", after optimisation" : "");
  for (const auto& b : j["backends"]) {
    const std::string device = b["device"];
    if (!b["available"].get<bool>()) {
      std::printf("  %-6s unavailable: %s\n", device.c_str(), b["reason"].get<std::string>().c_str());
      continue;
    }
    int supported = 0;
    for (const auto& [op, n] : b["supported"].items()) supported += n.get<int>();
    if (b["unsupported"].empty()) {
      std::printf("  %-6s runs all %d nodes\n", device.c_str(), supported);
      continue;
    }
    std::printf("  %-6s runs %d nodes; cannot run:\n", device.c_str(), supported);
    for (const auto& u : b["unsupported"])
      std::printf("           %s (%d node%s, e.g. '%s')\n", u["op"].get<std::string>().c_str(), u["nodes"].get<int>(),
                  u["nodes"].get<int>() == 1 ? "" : "s", u["example"].get<std::string>().c_str());
  }
}

// `tutti info --ops`: the operators each backend implements, whatever the model.
int PrintOperators(const std::vector<std::string>& devices, bool explicit_device, bool json) {
  Json j = Json::array();
  for (const std::string& device : devices) {
    auto backend = CreateBackend(device);
    if (!backend.ok()) {
      if (explicit_device) return ReportError(backend.status());
      j.push_back({{"device", device}, {"available", false}, {"reason", backend.status().message()}});
      continue;
    }
    std::vector<std::string> ops = (*backend)->SupportedOps();
    std::sort(ops.begin(), ops.end());
    j.push_back({{"device", (*backend)->name()}, {"available", true}, {"operators", ops}});
  }
  if (json) {
    std::printf("%s\n", DumpJson(j).c_str());
  } else {
    for (const auto& b : j) {
      if (!b["available"].get<bool>()) {
        std::printf("%s: unavailable: %s\n", b["device"].get<std::string>().c_str(), b["reason"].get<std::string>().c_str());
        continue;
      }
      std::printf("%s: %zu operators", b["device"].get<std::string>().c_str(), b["operators"].size());
      int col = 0;
      for (const auto& op : b["operators"]) std::printf("%s%s", col++ % 8 ? " " : "\n  ", op.get<std::string>().c_str());
      std::printf("\n");
    }
  }
  std::fflush(stdout);
  return 0;
}

int InfoBody(Args& args) {
  auto fail = [](const Status& s) { return ReportError(s); };
  const bool json = args.Has("json");
  const bool optimize = !args.Has("no-optimize");
  const bool ops = args.Has("ops");
  const std::optional<std::string> device = args.Get("device");
  const std::vector<std::string> devices = device ? std::vector<std::string>{*device} : std::vector<std::string>{"cpu", "cuda"};
  if (ops) {
    if (!args.positional().empty()) return fail(InvalidArgument("--ops takes no MODEL"));
    if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);
    return PrintOperators(devices, device.has_value(), json);
  }
  auto model = ModelPathArg(args);
  if (!model.ok()) return fail(model.status());
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);
  if (device) {
    // An explicit device that does not exist here is an error, not a line in the report.
    if (auto b = CreateBackend(*device); !b.ok()) return fail(b.status());
  }

  auto loaded = LoadModelGraph(*model);
  if (!loaded.ok()) return fail(loaded.status());
  const Graph& g = *loaded;
  Json j;
  j["model"] = *model;
  j["name"] = g.name;
  j["opsets"] = g.opsets();
  j["inputs"] = Specs(g, g.inputs());
  j["outputs"] = Specs(g, g.outputs());
  j["nodes"] = g.live_node_count();
  j["operators"] = OperatorCounts(g);

  // Support is judged on the graph as it would run: folding removes shape arithmetic a backend
  // never sees. If optimisation itself fails, say so and judge the graph as loaded.
  Graph runnable = g;
  if (Status s = PrepareGraph(runnable, optimize); !s.ok()) {
    j["optimize_error"] = s.message();
    runnable = g;
  } else if (optimize) {
    j["optimized_nodes"] = runnable.live_node_count();
    j["optimized_operators"] = OperatorCounts(runnable);
  }
  j["backends"] = Json::array();
  for (const std::string& d : devices) j["backends"].push_back(BackendSupport(d, runnable));

  if (json) {
    std::printf("%s\n", DumpJson(j).c_str());
  } else {
    PrintText(j);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

TUTTI_REGISTER_COMMAND("info", "describe a model: inputs, outputs, operators, backend support",
                       "usage: tutti info MODEL [--device D] [--json] [--no-optimize]\n"
                       "       tutti info --ops [--device D] [--json]\n"
                       "  prints inputs and outputs (dtype, symbolic shape), opsets, node and operator counts,\n"
                       "  and for each backend of this build (cpu, cuda) the operators it cannot run\n"
                       "  --ops                 list the operators each backend implements (no MODEL)\n"
                       "  --device D            only this backend: cpu, cuda, cuda:N\n"
                       "  --no-optimize         judge backend support on the graph as loaded\n"
                       "  --json                print as JSON (see docs/cli.md)",
                       &InfoBody);

}  // namespace tutti::cli
