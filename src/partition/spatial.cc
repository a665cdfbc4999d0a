#include "partition/spatial.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

namespace tutti::spatial {

namespace {

std::optional<Shape> ConcreteShape(const Value& v) {
  return v.info.shape ? ToConcrete(*v.info.shape) : std::nullopt;
}

// The value's declared info with the height replaced by `rows` (when the rank is known to be 4).
TensorInfo WithRows(const TensorInfo& info, int64_t rows) {
  TensorInfo t = info;
  if (t.shape && t.shape->size() == 4) (*t.shape)[2] = Dim::Known(rows);
  return t;
}

// The horizontal pads of a window node with auto_pad resolved (row bands keep the full width).
Result<std::pair<int64_t, int64_t>> WidthPads(const Graph& g, const Node& n, ValueId in) {
  std::vector<int64_t> pads = n.GetInts("pads", {0, 0, 0, 0});
  std::string auto_pad = n.GetString("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") return std::make_pair(pads[1], pads[3]);
  if (auto_pad == "VALID") return std::make_pair<int64_t, int64_t>(0, 0);
  auto shape = ConcreteShape(g.value(in));
  if (!shape || shape->size() != 4)
    return InvalidArgument(NodeLabel(n), ": auto_pad needs the input width, '", g.value(in).name, "' has no shape");
  HeightWindow w;  // the same rule along the width
  std::vector<int64_t> kernel = n.GetInts("kernel_shape");
  if (kernel.size() != 2 && n.HasInput(1) && g.value(n.inputs[1]).is_constant())
    kernel = {g.value(n.inputs[1]).constant.dim(2), g.value(n.inputs[1]).constant.dim(3)};
  if (kernel.size() != 2) return InvalidArgument(NodeLabel(n), ": no 2-D kernel_shape");
  w.kernel = kernel[1];
  w.stride = n.GetInts("strides", {1, 1})[1];
  w.dilation = n.GetInts("dilations", {1, 1})[1];
  int64_t in_w = (*shape)[3];
  int64_t out = (in_w + w.stride - 1) / w.stride;
  int64_t total = std::max<int64_t>(0, (out - 1) * w.stride + w.extent() - in_w);
  int64_t left = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
  return std::make_pair(left, total - left);
}

}  // namespace

Result<std::vector<Unit>> FindUnits(const Graph& g) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, g.TopologicalOrder());
  if (g.inputs().size() != 1 || g.outputs().size() != 1)
    return InvalidArgument("spatial split needs a model with one input and one output ('", g.name, "' has ",
                           g.inputs().size(), " and ", g.outputs().size(), ")");
  ValueId input = g.inputs()[0];
  auto in_shape = ConcreteShape(g.value(input));
  if (!in_shape || in_shape->size() != 4)
    return InvalidArgument("spatial split needs a concrete NCHW input; '", g.value(input).name, "' is ",
                           g.value(input).info.shape ? SymbolicShapeToString(*g.value(input).info.shape) : "unknown");
  // A cut is a point in the order where exactly one non-constant value is still to be read.
  std::map<ValueId, int64_t> uses;
  for (size_t v = 0; v < g.value_count(); ++v) uses[static_cast<ValueId>(v)] = 0;
  for (NodeId id : order)
    for (size_t i = 0; i < g.node(id).inputs.size(); ++i)
      if (g.node(id).HasInput(i)) ++uses[g.node(id).inputs[i]];
  for (ValueId v : g.outputs()) ++uses[v];
  std::set<ValueId> live{input};
  std::vector<Unit> units;
  Unit cur;
  cur.input = input;
  for (NodeId id : order) {
    const Node& n = g.node(id);
    cur.nodes.push_back(id);
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.HasInput(i) && !g.value(n.inputs[i]).is_constant() && --uses[n.inputs[i]] == 0) live.erase(n.inputs[i]);
    for (ValueId v : n.outputs)
      if (v != kNoValue && uses[v] > 0) live.insert(v);
    if (live.size() == 1 && *live.begin() != cur.input) {
      cur.output = *live.begin();
      cur.label = g.node(cur.nodes.front()).name + (cur.nodes.size() > 1 ? ".." + g.node(cur.nodes.back()).name : "");
      ValueId next = cur.output;
      units.push_back(std::move(cur));
      cur = Unit{};
      cur.input = next;
    }
  }
  if (!cur.nodes.empty() || units.empty() || units.back().output != g.outputs()[0])
    return InvalidArgument("'", g.name, "': the layers do not end in a single output value");
  int64_t h = (*in_shape)[2];
  for (Unit& u : units) {
    bool ok = std::all_of(u.nodes.begin(), u.nodes.end(), [&](NodeId n) { return IsRowSplittable(g, g.node(n)); });
    if (!ok) break;
    auto heights = PropagateHeights(g, u.nodes, u.input, h);
    if (!heights.ok()) break;
    u.splittable = true;
    u.in_h = h;
    u.out_h = h = heights->at(u.output);
  }
  return units;
}

std::vector<int64_t> ProportionalShares(int64_t rows, std::span<const double> speeds) {
  std::vector<int64_t> share(speeds.size(), 0);
  double total = 0;
  for (double s : speeds) total += std::max(0.0, s);
  if (total <= 0 || rows <= 0) return share;
  std::vector<std::pair<double, size_t>> remainder;
  int64_t given = 0;
  for (size_t d = 0; d < speeds.size(); ++d) {
    double ideal = static_cast<double>(rows) * std::max(0.0, speeds[d]) / total;
    share[d] = static_cast<int64_t>(ideal);
    given += share[d];
    if (speeds[d] > 0) remainder.push_back({ideal - static_cast<double>(share[d]), d});
  }
  std::stable_sort(remainder.begin(), remainder.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t i = 0; given < rows; ++i, ++given) ++share[remainder[i % remainder.size()].second];
  return share;
}

RowRange ShareRange(std::span<const int64_t> rows, size_t d) {
  int64_t begin = std::accumulate(rows.begin(), rows.begin() + static_cast<ptrdiff_t>(d), int64_t{0});
  return {begin, begin + rows[d]};
}

Result<Tile> BuildTile(const Graph& g, std::span<const Unit> units, size_t first, size_t last, RowRange out_rows) {
  if (first >= last || last > units.size()) return InvalidArgument("units [", first, ",", last, ") are not a group");
  std::vector<NodeId> nodes;
  for (size_t u = first; u < last; ++u) {
    if (!units[u].splittable) return InvalidArgument("unit '", units[u].label, "' cannot run on row bands");
    nodes.insert(nodes.end(), units[u].nodes.begin(), units[u].nodes.end());
  }
  ValueId input = units[first].input, output = units[last - 1].output;
  TUTTI_ASSIGN_OR_RETURN(auto heights, PropagateHeights(g, nodes, input, units[first].in_h));
  TUTTI_ASSIGN_OR_RETURN(auto need, RequiredRows(g, nodes, output, out_rows, heights));

  Tile tile;
  tile.out_rows = out_rows;
  tile.in_rows = need.at(input);
  Graph& t = tile.graph;
  t.name = StrCat(g.name, " units ", first, "..", last - 1, " rows ", RowRangeToString(out_rows));
  for (const auto& [domain, version] : g.opsets()) t.set_opset(domain, version);
  if (t.opset("") < 13) t.set_opset("", 13);  // the crops below are opset-13 Slices
  std::map<ValueId, ValueId> remap;
  remap[input] = t.AddInput(g.value(input).name, WithRows(g.value(input).info, tile.in_rows.size()));
  auto int64s = [&](const std::string& base, int64_t v) {
    return t.AddConstant(t.UniqueValueName(base), Tensor::FromVector<int64_t>({v}, {1}));
  };
  // `v` as rows `want` when it holds rows need[v] (a Slice when the reader needs fewer).
  auto rows_of = [&](ValueId v, RowRange want) -> ValueId {
    RowRange have = need.at(v);
    if (have == want) return remap.at(v);
    std::string base = g.value(v).name + "_rows";
    ValueId starts = int64s(base + "_start", want.begin - have.begin);
    ValueId ends = int64s(base + "_end", want.end - have.begin);
    ValueId axes = int64s(base + "_axis", 2);
    ValueId out = t.AddValue(t.UniqueValueName(base), WithRows(g.value(v).info, want.size()));
    t.AddNode("Slice", {remap.at(v), starts, ends, axes}, {out}, {}, t.UniqueValueName(base + "_crop"));
    return out;
  };
  for (NodeId id : nodes) {
    const Node& n = g.node(id);
    if (!need.count(n.outputs[0])) continue;  // nothing downstream needs it
    RowRange out = need.at(n.outputs[0]);
    std::vector<ValueId> ins;
    std::map<std::string, AttrValue> attrs = n.attrs;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      ValueId v = n.inputs[i];
      if (!n.HasInput(i)) { ins.push_back(kNoValue); continue; }
      if (g.value(v).is_constant()) {
        if (!remap.count(v)) remap[v] = t.AddConstant(g.value(v).name, g.value(v).constant);
        ins.push_back(remap[v]);
        continue;
      }
      TUTTI_ASSIGN_OR_RETURN(HeightWindow w, HeightWindowOf(g, n, heights.at(v)));
      RowRange want = w.InputRows(out, heights.at(v));
      ins.push_back(rows_of(v, want));
      if (!w.is_window()) continue;
      // The band's first output row starts its window at row out.begin*stride - pad_top of the
      // whole input; inside the band that is row -pad_top_new.
      int64_t pad_top = want.begin - (out.begin * w.stride - w.pad_top);
      int64_t pad_bottom = (out.size() - 1) * w.stride + w.extent() - want.size() - pad_top;
      if (pad_top < 0 || pad_bottom < 0)
        return Internal(NodeLabel(n), ": band ", RowRangeToString(out), " gives negative pads");
      TUTTI_ASSIGN_OR_RETURN(auto lr, WidthPads(g, n, v));
      attrs["pads"] = std::vector<int64_t>{pad_top, lr.first, pad_bottom, lr.second};
      attrs.erase("auto_pad");
    }
    std::vector<ValueId> outs;
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      ValueId v = n.outputs[i];
      if (v == kNoValue || (i > 0 && g.value(v).consumers.empty() && !g.IsGraphOutput(v))) {
        outs.push_back(kNoValue);  // e.g. Dropout's mask: nobody reads it
        continue;
      }
      RowRange r = need.count(v) ? need.at(v) : out;
      outs.push_back(remap[v] = t.AddValue(g.value(v).name, WithRows(g.value(v).info, r.size())));
    }
    t.AddNode(n.op_type, std::move(ins), std::move(outs), std::move(attrs), n.name, n.domain);
  }
  t.AddOutput(remap.at(output));
  TUTTI_RETURN_IF_ERROR(t.Validate().WithContext(t.name));
  return tile;
}

Status AnnotateUnitShapes(Graph& g, Backend& backend) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<Unit> units, FindUnits(g));
  auto in_shape = ConcreteShape(g.value(units[0].input));
  TUTTI_ASSIGN_OR_RETURN(Tensor x, Tensor::Zeros(g.value(units[0].input).info.dtype == DataType::kUndefined
                                                     ? DataType::kFloat32
                                                     : g.value(units[0].input).info.dtype,
                                                 *in_shape));
  for (size_t u = 0; u < units.size() && units[u].splittable; ++u) {
    TUTTI_ASSIGN_OR_RETURN(Tile tile, BuildTile(g, units, u, u + 1, {0, units[u].out_h}));
    TUTTI_ASSIGN_OR_RETURN(auto exe, backend.Compile(tile.graph, {}));
    std::vector<Tensor> out;
    TUTTI_RETURN_IF_ERROR(exe->Run({&x, 1}, out).WithContext("unit '" + units[u].label + "'"));
    g.value(units[u].output).info = {out.at(0).dtype(), ToSymbolic(out.at(0).shape())};
    x = out[0];
  }
  return Status::Ok();
}

Result<Graph> BuildHead(const Graph& g, std::span<const Unit> units, size_t first) {
  std::vector<NodeId> nodes;
  for (size_t u = first; u < units.size(); ++u) nodes.insert(nodes.end(), units[u].nodes.begin(), units[u].nodes.end());
  if (nodes.empty()) return InvalidArgument("the head has no layers");
  TUTTI_ASSIGN_OR_RETURN(Graph head, g.ExtractSubgraph(nodes));
  head.name = g.name + " head";
  return head;
}

Result<Tensor> SliceRows(const Tensor& t, RowRange r) {
  if (t.rank() != 4 || r.begin < 0 || r.end > t.dim(2) || r.empty())
    return InvalidArgument("rows ", RowRangeToString(r), " of ", t.DebugString(), " are not an NCHW band");
  Shape s = t.shape();
  s[2] = r.size();
  TUTTI_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(t.dtype(), s));
  const size_t row_bytes = static_cast<size_t>(t.dim(3)) * DataTypeSize(t.dtype());
  const auto* src = static_cast<const char*>(t.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (int64_t plane = 0; plane < t.dim(0) * t.dim(1); ++plane)
    std::memcpy(dst + static_cast<size_t>(plane * r.size()) * row_bytes,
                src + static_cast<size_t>(plane * t.dim(2) + r.begin) * row_bytes,
                static_cast<size_t>(r.size()) * row_bytes);
  return out;
}

Status PasteRows(const Tensor& part, int64_t row, Tensor& whole) {
  if (part.rank() != 4 || whole.rank() != 4 || part.dim(0) != whole.dim(0) || part.dim(1) != whole.dim(1) ||
      part.dim(3) != whole.dim(3) || part.dtype() != whole.dtype() || row < 0 || row + part.dim(2) > whole.dim(2))
    return InvalidArgument("band ", part.DebugString(), " does not fit ", whole.DebugString(), " at row ", row);
  const size_t row_bytes = static_cast<size_t>(part.dim(3)) * DataTypeSize(part.dtype());
  const auto* src = static_cast<const char*>(part.raw_data());
  auto* dst = static_cast<char*>(whole.raw_data());
  for (int64_t plane = 0; plane < part.dim(0) * part.dim(1); ++plane)
    std::memcpy(dst + static_cast<size_t>(plane * whole.dim(2) + row) * row_bytes,
                src + static_cast<size_t>(plane * part.dim(2)) * row_bytes,
                static_cast<size_t>(part.dim(2)) * row_bytes);
  return Status::Ok();
}

int SoleDevice(const SpatialPlan& plan) {
  for (const Group& gr : plan.groups)
    for (size_t d = 0; d < gr.rows.size(); ++d)
      if (gr.rows[d] > 0 && static_cast<int>(d) != plan.head_device) return -1;
  return plan.head_device;
}

std::string DescribePlan(const SpatialPlan& plan, std::span<const Unit> units,
                         std::span<const std::string> device_names) {
  auto name = [&](size_t d) { return d < device_names.size() ? device_names[d] : std::string("?"); };
  std::string s;
  if (SoleDevice(plan) >= 0) {
    s += StrCat("whole model on ", name(static_cast<size_t>(plan.head_device)), ", one call\n");
  } else {
    for (size_t i = 0; i < plan.groups.size(); ++i) {
      const Group& gr = plan.groups[i];
      s += StrCat("group ", i, ": units ", gr.first, "..", gr.last - 1, " (", units[gr.first].label,
                  gr.last - gr.first > 1 ? " .. " + units[gr.last - 1].label : std::string(), "), ",
                  units[gr.last - 1].out_h, " output rows:");
      for (size_t d = 0; d < gr.rows.size(); ++d)
        if (gr.rows[d] > 0) s += StrCat(" ", name(d), "=", gr.rows[d]);
      s += "\n";
    }
    if (plan.head_first < units.size())
      s += StrCat("head: units ", plan.head_first, "..", units.size() - 1, " on ",
                  name(static_cast<size_t>(plan.head_device)), "\n");
  }
  if (plan.predicted_us > 0) s += StrCat("predicted: ", plan.predicted_us / 1000.0, " ms\n");
  return s;
}

}  // namespace tutti::spatial
