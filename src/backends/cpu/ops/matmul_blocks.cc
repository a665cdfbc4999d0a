#include "backends/cpu/ops/matmul_blocks.h"

#include <omp.h>

#include "backends/cpu/asymmetric/block_cost_model.h"

namespace tutti::cpu {

using dnnl::memory;

namespace {
constexpr int64_t kColumnGranule = 16;  // one AVX-512 vector of output columns
}  // namespace

Result<std::unique_ptr<MatMulBlocks>> MatMulBlocks::Make(const MatMulBlockSetup& s, asymmetric::CorePool& pool,
                                                         CpuPartition mode) {
  if (!s.b || pool.size() < 2 || s.n < 2 * kColumnGranule || s.m <= 0 || s.k <= 0)
    return std::unique_ptr<MatMulBlocks>();
  auto b = std::unique_ptr<MatMulBlocks>(new MatMulBlocks());
  b->pool_ = &pool;
  b->n_ = s.n;
  b->bias_ = s.bias;
  b->bias_cols_ = s.bias_cols;
  const int64_t m = s.m, k = s.k;
  b->partition_ = asymmetric::BlockPartition::Make(
      mode, pool, asymmetric::ProcessCostModel(), 1, s.n, kColumnGranule, [=](int64_t e) {
        return asymmetric::BlockShape{double(m * k), double(k * e), double(m * e), 2.0 * double(m) * double(e) * double(k)};
      });
  if (b->partition_.blocks().empty()) return std::unique_ptr<MatMulBlocks>();  // runs whole
  Status st = DnnlTry("creating the matmul blocks", [&] {
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);  // primitives for one core
    try {
      for (int64_t e : b->partition_.extents()) {
        const memory::desc w_any({k, e}, memory::data_type::f32, memory::format_tag::any);
        const memory::desc dst({m, e}, memory::data_type::f32, memory::dims{s.n, 1});
        const int64_t bc = s.bias_cols == 1 ? 1 : e;
        const memory::desc bias = s.bias ? memory::desc({s.bias_rows, bc}, memory::data_type::f32, memory::dims{s.bias_cols, 1})
                                         : memory::desc();
        dnnl::matmul::desc d = s.bias ? dnnl::matmul::desc(s.a, w_any, bias, dst) : dnnl::matmul::desc(s.a, w_any, dst);
        dnnl::matmul::primitive_desc pd(d, MakeAttr(s.ops), DnnlEngine());
        b->prims_[e] = Prim{dnnl::matmul(pd), pd};
      }
    } catch (...) {
      omp_set_num_threads(before);
      throw;
    }
    omp_set_num_threads(before);
    for (const asymmetric::Block& blk : b->partition_.blocks()) {
      const int64_t e = blk.extent();
      // B's columns [begin, end): [K, e] with B's own strides.
      const memory::desc user({k, e}, memory::data_type::f32, s.b_transposed ? memory::dims{1, k} : memory::dims{s.n, 1});
      const float* from = s.b_transposed ? s.b + blk.begin * k : s.b + blk.begin;
      const memory::desc want = b->prims_.at(e).pd.weights_desc();
      b->weights_[blk.begin] = ReorderConstant(from, user, want);
      b->weight_bytes_ += want.get_size();
    }
  });
  if (!st.ok()) return st;
  return b;
}

Status MatMulBlocks::Run(const void* a, float* y) {
  return partition_.Run(*pool_, [&](const asymmetric::Block& blk) -> Status {
    const Prim& p = prims_.at(blk.extent());
    return DnnlTry("matmul block", [&] {
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, memory(p.pd.src_desc(), DnnlEngine(), const_cast<void*>(a))},
          {DNNL_ARG_WEIGHTS, memory(p.pd.weights_desc(), DnnlEngine(), weights_.at(blk.begin).get())},
          {DNNL_ARG_DST, memory(p.pd.dst_desc(), DnnlEngine(), y + blk.begin)},
          {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(p.pd)}};
      if (bias_)
        args[DNNL_ARG_BIAS] = memory(p.pd.bias_desc(), DnnlEngine(), const_cast<float*>(bias_cols_ == 1 ? bias_ : bias_ + blk.begin));
      p.prim.execute(DnnlStream(), args);
      DnnlStream().wait();
    });
  });
}

}  // namespace tutti::cpu
