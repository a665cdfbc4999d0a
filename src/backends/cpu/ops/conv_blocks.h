// A convolution cut into output-channel blocks (group blocks for grouped / depthwise convolutions)
// of one image each, run on the pinned core pool (asymmetric/block_partition.h decides the cut and
// the placement). Each block is a oneDNN convolution primitive built for one thread, reading the
// full input (or, grouped, its groups' input channels) and writing its channels straight into the
// full output: in a channel-major layout (nchw or nChw{8,16}c) a channel range of one image that
// starts at a multiple of the layout's channel block is one contiguous run of bytes.
#pragma once

#include <map>
#include <memory>

#include "backends/cpu/asymmetric/block_partition.h"
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {

struct ConvBlockSetup {
  Shape x, y;                      // input and output shapes, [N, C, spatial...]
  int64_t groups = 1;
  std::vector<int64_t> kernel;     // spatial kernel extent
  dnnl::memory::dims strides, dilations, pad_begin, pad_end;  // oneDNN conventions
  dnnl::memory::desc src, dst;     // layouts the full convolution reads and writes
  const float* weights = nullptr;  // ONNX layout [Cout, Cin/g, k...]
  bool has_bias = false;
  dnnl::post_ops ops;              // the fused sum / activation, as the full primitive has them
};

class ConvBlocks {
 public:
  // Null (no error) when this convolution cannot be cut: layouts that are not channel-major, no
  // constant weights, or too few channels to give two blocks.
  static Result<std::unique_ptr<ConvBlocks>> Make(const ConvBlockSetup& setup, asymmetric::CorePool& pool,
                                                  CpuPartition mode);
  // src/dst in the setup's layouts; bias: Cout floats or null.
  Status Run(const void* src, void* dst, const void* bias);
  size_t weight_bytes() const { return weight_bytes_; }
  const asymmetric::BlockPartition& partition() const { return partition_; }

 private:
  struct Prim {
    dnnl::convolution_forward prim;
    dnnl::convolution_forward::primitive_desc pd;
  };
  asymmetric::CorePool* pool_ = nullptr;
  asymmetric::BlockPartition partition_;
  std::map<int64_t, Prim> prims_;                   // by block extent
  std::map<int64_t, std::shared_ptr<void>> weights_;  // by block begin: the block's reordered weights
  int64_t icg_ = 0, ocg_ = 0;                       // channels per group (groups > 1), else 0
  bool grouped_ = false;
  size_t src_image_bytes_ = 0, dst_image_bytes_ = 0, src_channel_bytes_ = 0, dst_channel_bytes_ = 0;
  dnnl::memory::format_tag src_tag_{}, dst_tag_{};
  Shape x_, y_;
  size_t weight_bytes_ = 0;
};

// The channel block of a channel-major layout of `dims` (1 for plain nchw, 8 or 16 for nChw8c /
// nChw16c, ...) and its format tag; 0 when `md` is none of them.
int64_t ChannelBlockOf(const dnnl::memory::desc& md, const Shape& dims, dnnl::memory::format_tag* tag);

}  // namespace tutti::cpu
