// A convolution cut into output-channel blocks (group blocks for grouped / depthwise convolutions)
// of one image each, run on the pinned core pool (asymmetric/block_partition.h decides the cut and
// the placement). Each block is a oneDNN convolution primitive built for one thread, reading the
// full input (or, grouped, its groups' input channels) and writing its output channels.
//
// How a block reaches its channels depends on the layout the whole convolution uses:
//   channel-major (nchw, nChw8c, nChw16c): a channel range of one image that starts on a layout
//     block is one contiguous run of bytes, so the block reads and writes the full tensors in place;
//   channels-last (nhwc, what oneDNN's brgemm convolutions pick on AVX-512): a channel range is a
//     strided view, so the block computes into a dense buffer of its worker and a reorder scatters
//     it into the view (gathering the residual first when a sum is fused, and, grouped, the input).
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
  bool has_sum = false;            // ops holds a sum: dst already holds the residual
};

class ConvBlocks {
 public:
  // Null (no error) when this convolution is not cut: layouts that are neither channel-major nor
  // channels-last, too few channels to give two blocks, or (kAsymmetric) too little work per block
  // to amortise a block's fixed cost (block_partition.h).
  static Result<std::unique_ptr<ConvBlocks>> Make(const ConvBlockSetup& setup, asymmetric::CorePool& pool,
                                                  CpuPartition mode);
  // src/dst in the setup's layouts; bias: Cout floats or null.
  Status Run(const void* src, void* dst, const void* bias);
  size_t weight_bytes() const { return weight_bytes_; }

  // How one tensor's channel range is reached (see the file comment).
  struct Access {
    bool direct = true;               // channel-major: pointer offset
    dnnl::memory::format_tag block_tag{};  // layout of a block's own (dense) tensor
    size_t image_bytes = 0;           // bytes per image of the full tensor
    size_t channel_bytes = 0;         // bytes between channel c and c+1 (direct: spatial x 4; else 4)
    dnnl::memory::dims strides;       // channels-last: the full tensor's strides, for the view
  };

 private:
  struct Prim {
    dnnl::convolution_forward prim;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::reorder src_gather, dst_gather, dst_scatter;  // channels-last only
  };
  asymmetric::CorePool* pool_ = nullptr;
  asymmetric::BlockPartition partition_;
  std::map<int64_t, Prim> prims_;                   // by block extent
  std::map<int64_t, std::shared_ptr<void>> weights_;  // by block begin: the block's reordered weights
  int64_t icg_ = 0, ocg_ = 0;                       // channels per group (groups > 1), else 0
  bool grouped_ = false, has_sum_ = false;
  Access src_, dst_;
  size_t weight_bytes_ = 0;
};

}  // namespace tutti::cpu
