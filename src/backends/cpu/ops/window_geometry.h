// Sliding-window geometry shared by Conv, ConvTranspose and the poolings: ONNX's kernel_shape /
// strides / dilations / pads / auto_pad attributes turned into per-spatial-dim numbers, with the
// output size. Pads are explicit begin/end values after auto_pad has been resolved.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti::cpu {

struct WindowGeometry {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
  bool end_pad_grown = false;  // ceil mode made some end pad larger than the node's pads
  // oneDNN counts dilation from 0 (no dilation); ONNX from 1.
  std::vector<int64_t> dnnl_dilations() const {
    std::vector<int64_t> d(dilations);
    for (int64_t& v : d) v -= 1;
    return d;
  }
};

// Conv and pooling: `x` is [N, C, spatial...]; `kernel` the window per spatial dim. With
// ceil_mode the output rounds up (pooling); pad_end then grows to cover the last window.
// `expected_out` (the inferred output spatial dims, may be empty) wins over the computed size when
// given, as the rest of the graph was shaped by it.
Result<WindowGeometry> ForwardWindow(const Node& n, const Shape& x, const std::vector<int64_t>& kernel,
                                     bool ceil_mode, const std::vector<int64_t>& expected_out);

// ConvTranspose: output_padding, output_shape and auto_pad as the ONNX spec states them.
Result<WindowGeometry> TransposedWindow(const Node& n, const Shape& x, const std::vector<int64_t>& kernel);
// Global pooling over x = [N, C, spatial...]: one window covering every spatial position.
WindowGeometry GlobalWindow(const Shape& x);

}  // namespace tutti::cpu
