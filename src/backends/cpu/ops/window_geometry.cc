#include "backends/cpu/ops/window_geometry.h"

#include <string>

namespace tutti::cpu {
namespace {

// Reads an ints attribute of length `rank`, or `dflt` repeated when absent.
Result<std::vector<int64_t>> PerDim(const Node& n, const char* key, size_t rank, int64_t dflt, int64_t min_value) {
  std::vector<int64_t> v = n.GetInts(key, std::vector<int64_t>(rank, dflt));
  if (v.size() != rank)
    return InvalidArgument(NodeLabel(n), ": ", key, " has ", v.size(), " values, expected ", rank);
  for (int64_t e : v)
    if (e < min_value) return InvalidArgument(NodeLabel(n), ": ", key, " value ", e, " is below ", min_value);
  return v;
}

Status ReadCommon(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, WindowGeometry& g) {
  if (x.size() < 3) return InvalidArgument(NodeLabel(n), ": input rank ", x.size(), " is below 3");
  const size_t rank = x.size() - 2;
  if (kernel.size() != rank)
    return InvalidArgument(NodeLabel(n), ": kernel has ", kernel.size(), " spatial dims, input has ", rank);
  for (int64_t k : kernel)
    if (k < 1) return InvalidArgument(NodeLabel(n), ": kernel size ", k, " is not positive");
  g.kernel = kernel;
  TUTTI_ASSIGN_OR_RETURN(g.strides, PerDim(n, "strides", rank, 1, 1));
  TUTTI_ASSIGN_OR_RETURN(g.dilations, PerDim(n, "dilations", rank, 1, 1));
  std::vector<int64_t> pads = n.GetInts("pads", std::vector<int64_t>(2 * rank, 0));
  if (pads.size() != 2 * rank)
    return InvalidArgument(NodeLabel(n), ": pads has ", pads.size(), " values, expected ", 2 * rank);
  for (int64_t p : pads)
    if (p < 0) return InvalidArgument(NodeLabel(n), ": negative pad ", p);
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<long>(rank));
  g.pad_end.assign(pads.begin() + static_cast<long>(rank), pads.end());
  return Status::Ok();
}

int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

}  // namespace

Result<WindowGeometry> ForwardWindow(const Node& n, const Shape& x, const std::vector<int64_t>& kernel,
                                     bool ceil_mode, const std::vector<int64_t>& expected_out) {
  WindowGeometry g;
  TUTTI_RETURN_IF_ERROR(ReadCommon(n, x, kernel, g));
  const size_t rank = kernel.size();
  const std::string auto_pad = n.GetString("auto_pad", "NOTSET");
  g.out.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = x[i + 2];
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[i] = CeilDiv(in, g.strides[i]);
      const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.strides[i] + span - in);
      const int64_t small = total / 2;
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
    } else {
      if (auto_pad == "VALID") g.pad_begin[i] = g.pad_end[i] = 0;
      else if (auto_pad != "NOTSET" && !auto_pad.empty())
        return InvalidArgument(NodeLabel(n), ": unknown auto_pad '", auto_pad, "'");
      const int64_t room = in + g.pad_begin[i] + g.pad_end[i] - span;
      if (room < 0)
        return InvalidArgument(NodeLabel(n), ": window of ", span, " does not fit input ", in, " plus pads");
      g.out[i] = (ceil_mode ? CeilDiv(room, g.strides[i]) : room / g.strides[i]) + 1;
    }
    if (i < expected_out.size() && expected_out[i] >= 1) g.out[i] = expected_out[i];
    // The end pad that exactly covers the last window: no window reads past it, so replacing the
    // given end pad by it changes nothing, except when it grows (ceil mode) -- recorded because an
    // average that counts padding must not count that extra part (ONNX/PyTorch do not).
    const int64_t end = (g.out[i] - 1) * g.strides[i] + span - in - g.pad_begin[i];
    if (end > g.pad_end[i]) g.end_pad_grown = true;
    g.pad_end[i] = end;
  }
  return g;
}

WindowGeometry GlobalWindow(const Shape& x) {
  const size_t r = x.size() - 2;
  WindowGeometry g;
  g.kernel.assign(x.begin() + 2, x.end());
  g.strides.assign(r, 1);
  g.dilations.assign(r, 1);
  g.pad_begin.assign(r, 0);
  g.pad_end.assign(r, 0);
  g.out.assign(r, 1);
  return g;
}

Result<WindowGeometry> TransposedWindow(const Node& n, const Shape& x, const std::vector<int64_t>& kernel) {
  WindowGeometry g;
  TUTTI_RETURN_IF_ERROR(ReadCommon(n, x, kernel, g));
  const size_t rank = kernel.size();
  std::vector<int64_t> out_pad = n.GetInts("output_padding", std::vector<int64_t>(rank, 0));
  if (out_pad.size() != rank)
    return InvalidArgument(NodeLabel(n), ": output_padding has ", out_pad.size(), " values, expected ", rank);
  std::vector<int64_t> out_shape = n.GetInts("output_shape", {});
  if (out_shape.size() == rank + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != rank)
    return InvalidArgument(NodeLabel(n), ": output_shape has ", out_shape.size(), " values, expected ", rank);
  const std::string auto_pad = n.GetString("auto_pad", "NOTSET");
  g.out.resize(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = x[i + 2];
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t full = g.strides[i] * (in - 1) + out_pad[i] + span;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!out_shape.empty() || same) {
      const int64_t target = out_shape.empty() ? in * g.strides[i] : out_shape[i];
      const int64_t total = full - target;
      if (total < 0 && out_shape.empty())
        return InvalidArgument(NodeLabel(n), ": output_shape ", target, " exceeds what the input can produce");
      // ONNX: SAME_UPPER puts the smaller half first; otherwise the larger half goes first. An
      // output_shape larger than the full output (total < 0) grows it at the end, as
      // output_padding does (ONNX's reference output for test_convtranspose_output_shape).
      if (total < 0) {
        g.pad_begin[i] = 0;
        g.pad_end[i] = total;
      } else if (auto_pad == "SAME_UPPER") {
        g.pad_begin[i] = total / 2;
        g.pad_end[i] = total - total / 2;
      } else {
        g.pad_begin[i] = total - total / 2;
        g.pad_end[i] = total / 2;
      }
      g.out[i] = target;
    } else {
      if (auto_pad == "VALID") g.pad_begin[i] = g.pad_end[i] = 0;
      else if (auto_pad != "NOTSET" && !auto_pad.empty())
        return InvalidArgument(NodeLabel(n), ": unknown auto_pad '", auto_pad, "'");
      g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    }
    if (g.out[i] < 1) return InvalidArgument(NodeLabel(n), ": output size ", g.out[i], " is not positive");
    // oneDNN's deconvolution has no output_padding: out = s*(in-1) + span - pad_begin - pad_end,
    // so the end pad absorbs it (and may go negative).
    g.pad_end[i] = g.strides[i] * (in - 1) + span - g.pad_begin[i] - g.out[i];
  }
  return g;
}

}  // namespace tutti::cpu
