// A 2-D Gemm / MatMul with constant B cut into column blocks (of B and Y) and run on the pinned core
// pool (asymmetric/block_partition.h decides the cut and placement). Each block is a oneDNN matmul
// primitive built for one thread over its slice of B (packed once), writing its columns of Y in
// place through Y's row stride. Columns, not rows: at batch 1 an FC layer has one row, and its cost
// is streaming B, which column blocks divide.
#pragma once

#include <map>
#include <memory>

#include "backends/cpu/asymmetric/block_partition.h"
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {

struct MatMulBlockSetup {
  int64_t m = 0, n = 0, k = 0;
  dnnl::memory::desc a;            // A as the full primitive reads it, [M, K] (strides may transpose)
  const float* b = nullptr;        // constant B, alpha already applied
  bool b_transposed = false;       // B stored [N, K]
  const float* bias = nullptr;     // [bias_rows, bias_cols] broadcast to [M, N], or null
  int64_t bias_rows = 0, bias_cols = 0;
  dnnl::post_ops ops;
};

class MatMulBlocks {
 public:
  // Null (no error) when there are too few columns for two blocks, or (kAsymmetric) too little
  // work per block to amortise a block's fixed cost (block_partition.h).
  static Result<std::unique_ptr<MatMulBlocks>> Make(const MatMulBlockSetup& setup, asymmetric::CorePool& pool,
                                                    CpuPartition mode);
  // a in the setup's layout; y row-major [M, N] (already holding C when a sum post-op is set).
  Status Run(const void* a, float* y);
  size_t weight_bytes() const { return weight_bytes_; }

 private:
  struct Prim {
    dnnl::matmul prim;
    dnnl::matmul::primitive_desc pd;
  };
  asymmetric::CorePool* pool_ = nullptr;
  asymmetric::BlockPartition partition_;
  std::map<int64_t, Prim> prims_;                     // by block extent
  std::map<int64_t, std::shared_ptr<void>> weights_;  // by block begin
  const float* bias_ = nullptr;
  int64_t n_ = 0, bias_cols_ = 0;
  size_t weight_bytes_ = 0;
};

}  // namespace tutti::cpu
