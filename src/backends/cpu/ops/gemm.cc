// Gemm and MatMul through oneDNN's matmul primitive.
//   Gemm:   Y = act(alpha * A' B' + beta * C), A'/B' optionally transposed (strides, no copy), C
//           unidirectionally broadcast to [M, N].
//   MatMul: NumPy matmul: batched with broadcast batch dims, 1-D operands promoted and squeezed.
// Constant B (the usual weights) is reordered once into the primitive's preferred layout, with
// Gemm's alpha folded into it and a constant beta*C folded into the bias.
#include <cstring>

#include "backends/cpu/ops/matmul_blocks.h"
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;

class MatMulKernel final : public LayoutAwareKernel {
 public:
  bool runs_whole_on_thread_team() const override { return !blocks_; }
  Status Run(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b) return InvalidArgument("missing input");
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape_, DataType::kFloat32));
    if (NumElements(out_shape_) == 0) return Status::Ok();
    if (prefill_input_ >= 0) {
      const Tensor* c = ctx.input(static_cast<size_t>(prefill_input_));
      if (!c) return InvalidArgument("missing input ", prefill_input_);
      TUTTI_RETURN_IF_ERROR(Prefill(*c, y->data<float>()));
    }
    if (k_ == 0) {  // empty reduction: the product is zero; post-ops still apply
      if (prefill_input_ < 0) std::memset(y->raw_data(), 0, y->nbytes());
      else for (int64_t i = 0; i < y->num_elements(); ++i) y->data<float>()[i] *= sum_scale_;
      for (int64_t i = 0; i < y->num_elements(); ++i) y->data<float>()[i] = ApplyActivation(act_, y->data<float>()[i]);
      return Status::Ok();
    }
    if (blocks_) return blocks_->Run(a->raw_data(), y->data<float>());  // on the pinned core pool
    return DnnlTry("matmul", [&] {
      a_mem_.set_data_handle(const_cast<void*>(a->raw_data()));
      b_mem_.set_data_handle(weights_ ? weights_.get() : const_cast<void*>(b->raw_data()));
      dst_mem_.set_data_handle(y->raw_data());
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, a_mem_}, {DNNL_ARG_WEIGHTS, b_mem_},
                                              {DNNL_ARG_DST, dst_mem_}, {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}};
      if (bias_) args[DNNL_ARG_BIAS] = bias_mem_;
      prim_.execute(DnnlStream(), args);
      DnnlStream().wait();
    });
  }
  size_t weight_bytes() const override { return weight_bytes_; }

  // Gemm's C broadcast into Y (the sum post-op then adds beta * Y); MatMul's fused sum copies.
  Status Prefill(const Tensor& c, float* y) const {
    const int64_t m = out_shape_.size() >= 2 ? out_shape_[out_shape_.size() - 2] : 1;
    const int64_t n = out_shape_.back();
    if (c.num_elements() == NumElements(out_shape_)) {
      std::memcpy(y, c.raw_data(), c.nbytes());
      return Status::Ok();
    }
    if (out_shape_.size() != 2) return InvalidArgument("fused sum input must have the output's shape");
    const Shape& cs = c.shape();
    const int64_t cm = cs.size() >= 2 ? cs[cs.size() - 2] : 1, cn = cs.empty() ? 1 : cs.back();
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n) || c.num_elements() != cm * cn)
      return InvalidArgument("C of shape ", ShapeToString(cs), " does not broadcast to [", m, ",", n, "]");
    const float* cv = c.data<float>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) y[i * n + j] = cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
    return Status::Ok();
  }

  dnnl::matmul::primitive_desc pd_;
  dnnl::matmul prim_;
  memory a_mem_, b_mem_, dst_mem_, bias_mem_;
  std::shared_ptr<void> weights_, bias_;
  size_t weight_bytes_ = 0;
  int prefill_input_ = -1;  // input copied/broadcast into Y before the sum post-op
  float sum_scale_ = 1.f;
  int64_t k_ = 0;
  FusedActivation act_;
  Shape out_shape_;
  std::unique_ptr<MatMulBlocks> blocks_;
};

// Strides of a row-major [rows, cols] matrix read transposed (or not).
memory::desc MatrixDesc(const memory::dims& batch, int64_t rows, int64_t cols, bool transposed) {
  memory::dims dims = batch, strides(batch.size());
  dims.push_back(rows);
  dims.push_back(cols);
  int64_t s = rows * cols;
  for (size_t i = batch.size(); i-- > 0;) {
    strides[i] = s;
    s *= batch[i];
  }
  if (transposed) {
    strides.push_back(1);
    strides.push_back(rows);
  } else {
    strides.push_back(cols);
    strides.push_back(1);
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}

struct MatMulSetup {
  memory::desc a, b, dst, bias;
  const void* b_const = nullptr;      // constant B to pre-reorder (null: B read at run time)
  std::vector<float> b_scaled;        // B with alpha folded in, when that was done
  std::vector<float> bias_values;     // constant bias, when C folded into it
  float output_linear = 1.f;          // alpha when it could not be folded
  bool sum = false;
  float sum_scale = 1.f;
  FusedActivation act;
};

// Throws dnnl::error (call inside DnnlTry).
dnnl::post_ops PostOps(const MatMulSetup& s) {
  dnnl::post_ops ops;
  if (s.output_linear != 1.f) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, s.output_linear, 0.f);
  if (s.sum) ops.append_sum(s.sum_scale);
  AppendActivation(s.act, ops);
  return ops;
}

Status Build(MatMulKernel& k, MatMulSetup& s) {
  return DnnlTry("creating the matmul", [&] {
    const dnnl::post_ops ops = PostOps(s);
    memory::desc b_md = s.b;
    const bool pack = s.b_const && s.b.data.ndims == 2;
    if (pack) b_md = memory::desc(s.b.dims(), memory::data_type::f32, memory::format_tag::any);
    dnnl::matmul::desc d = s.bias.is_zero() ? dnnl::matmul::desc(s.a, b_md, s.dst)
                                            : dnnl::matmul::desc(s.a, b_md, s.bias, s.dst);
    k.pd_ = dnnl::matmul::primitive_desc(d, MakeAttr(ops), DnnlEngine());
    k.prim_ = dnnl::matmul(k.pd_);
    const void* bsrc = s.b_scaled.empty() ? s.b_const : s.b_scaled.data();
    if (s.b_const) {
      k.weights_ = ReorderConstant(bsrc, s.b, k.pd_.weights_desc());
      k.weight_bytes_ += k.pd_.weights_desc().get_size();
    }
    k.a_mem_ = memory(s.a, DnnlEngine(), nullptr);
    k.b_mem_ = memory(k.pd_.weights_desc(), DnnlEngine(), nullptr);
    k.dst_mem_ = memory(s.dst, DnnlEngine(), nullptr);
    if (!s.bias.is_zero()) {
      k.bias_ = AlignedBuffer(s.bias_values.size() * sizeof(float));
      std::memcpy(k.bias_.get(), s.bias_values.data(), s.bias_values.size() * sizeof(float));
      k.bias_mem_ = memory(s.bias, DnnlEngine(), k.bias_.get());
      k.weight_bytes_ += s.bias_values.size() * sizeof(float);
    }
  });
}

// With a core pool: a 2-D product with constant B is cut into column blocks run on the pool
// (matmul_blocks.h); the blocks then hold the packed B instead of the whole-matrix primitive.
Status CutIntoBlocks(MatMulKernel& k, const MatMulSetup& s, const KernelBuildInfo& info, int64_t m, int64_t n,
                     int64_t kk, bool b_transposed) {
  if (!info.pool || !s.b_const || s.a.data.ndims != 2 || s.b.data.ndims != 2) return Status::Ok();
  MatMulBlockSetup cut;
  cut.m = m;
  cut.n = n;
  cut.k = kk;
  cut.a = s.a;
  cut.b = static_cast<const float*>(s.b_scaled.empty() ? s.b_const : s.b_scaled.data());
  cut.b_transposed = b_transposed;
  if (!s.bias.is_zero()) {
    cut.bias = static_cast<const float*>(k.bias_.get());
    cut.bias_rows = s.bias.dims()[0];
    cut.bias_cols = s.bias.dims()[1];
  }
  TUTTI_RETURN_IF_ERROR(DnnlTry("matmul post-ops", [&] { cut.ops = PostOps(s); }));
  TUTTI_ASSIGN_OR_RETURN(k.blocks_, MatMulBlocks::Make(cut, *info.pool, info.partition));
  if (k.blocks_) {
    k.weight_bytes_ = k.weight_bytes_ - k.pd_.weights_desc().get_size() + k.blocks_->weight_bytes();
    k.weights_.reset();
  }
  return Status::Ok();
}

Result<std::unique_ptr<LayoutAwareKernel>> MakeGemm(const KernelBuildInfo& info, const LayoutRequest&) {
  const Node& n = info.node;
  auto as = info.input_shape(0), bs = info.input_shape(1);
  if (!as || !bs) return InvalidArgument("input shapes must be known at compile time");
  if (as->size() != 2 || bs->size() != 2) return InvalidArgument("Gemm needs 2-D A and B");
  const bool ta = n.GetInt("transA", 0) != 0, tb = n.GetInt("transB", 0) != 0;
  const int64_t m = ta ? (*as)[1] : (*as)[0], k = ta ? (*as)[0] : (*as)[1];
  const int64_t kb = tb ? (*bs)[1] : (*bs)[0], nn = tb ? (*bs)[0] : (*bs)[1];
  if (k != kb) return InvalidArgument("A has K=", k, " but B has K=", kb);
  const float alpha = n.GetFloat("alpha", 1.f), beta = n.GetFloat("beta", 1.f);
  auto kern = std::make_unique<MatMulKernel>();
  kern->out_shape_ = {m, nn};
  kern->k_ = k;
  MatMulSetup s;
  TUTTI_ASSIGN_OR_RETURN(s.act, ParseFusedActivation(n));
  kern->act_ = s.act;
  s.a = MatrixDesc({}, m, k, ta);
  s.b = MatrixDesc({}, k, nn, tb);
  s.dst = PlainDesc({m, nn});
  if (const Tensor* b = info.constant_input(1)) {
    s.b_const = b->raw_data();
    if (alpha != 1.f) {
      s.b_scaled.assign(b->data<float>(), b->data<float>() + b->num_elements());
      for (float& v : s.b_scaled) v *= alpha;
    }
  } else {
    s.output_linear = alpha;
  }
  const bool alpha_folded = s.b_const || alpha == 1.f;
  const bool has_c = n.HasInput(2) && beta != 0.f;
  if (has_c) {
    auto cs = info.input_shape(2);
    if (!cs || cs->size() > 2) return InvalidArgument("C must be a known shape of rank <= 2");
    const int64_t cm = cs->size() == 2 ? (*cs)[0] : 1, cn = cs->empty() ? 1 : cs->back();
    if ((cm != 1 && cm != m) || (cn != 1 && cn != nn))
      return InvalidArgument("C of shape ", ShapeToString(*cs), " does not broadcast to [", m, ",", nn, "]");
    const Tensor* c = info.constant_input(2);
    if (c && alpha_folded) {  // beta * C as the matmul's (broadcast) bias
      s.bias = memory::desc({cm, cn}, memory::data_type::f32, memory::format_tag::ab);
      s.bias_values.resize(static_cast<size_t>(cm * cn));
      for (int64_t i = 0; i < cm * cn; ++i) s.bias_values[static_cast<size_t>(i)] = beta * c->data<float>()[i];
    } else {
      s.sum = true;
      s.sum_scale = beta;
      kern->prefill_input_ = 2;
    }
  }
  if (HasFusedSum(n)) {
    if (s.sum) return Unimplemented("a fused sum on a Gemm whose C is not constant");
    if (!n.HasInput(3)) return InvalidArgument("_fused_sum is set but input 3 is absent");
    s.sum = true;
    kern->prefill_input_ = 3;
  }
  kern->sum_scale_ = s.sum_scale;
  if (k > 0 && m > 0 && nn > 0) {
    TUTTI_RETURN_IF_ERROR(Build(*kern, s));
    TUTTI_RETURN_IF_ERROR(CutIntoBlocks(*kern, s, info, m, nn, k, tb));
  }
  return std::unique_ptr<LayoutAwareKernel>(std::move(kern));
}

Result<std::unique_ptr<LayoutAwareKernel>> MakeMatMul(const KernelBuildInfo& info, const LayoutRequest&) {
  const Node& n = info.node;
  auto as = info.input_shape(0), bs = info.input_shape(1);
  if (!as || !bs) return InvalidArgument("input shapes must be known at compile time");
  Shape a = *as, b = *bs;
  if (a.empty() || b.empty()) return InvalidArgument("MatMul operands must have rank >= 1");
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t m = a[a.size() - 2], k = a.back(), kb = b[b.size() - 2], nn = b.back();
  if (k != kb) return InvalidArgument("A has K=", k, " but B has K=", kb);
  const size_t rank = std::max(a.size(), b.size());
  a.insert(a.begin(), rank - a.size(), 1);
  b.insert(b.begin(), rank - b.size(), 1);
  memory::dims abatch(a.begin(), a.end() - 2), bbatch(b.begin(), b.end() - 2), obatch;
  for (size_t i = 0; i + 2 < rank; ++i) {
    if (abatch[i] != bbatch[i] && abatch[i] != 1 && bbatch[i] != 1)
      return InvalidArgument("batch dims ", ShapeToString(*as), " and ", ShapeToString(*bs), " do not broadcast");
    obatch.push_back(abatch[i] == 1 ? bbatch[i] : abatch[i]);
  }
  if (rank > 12) return Unimplemented("MatMul of rank ", rank);
  auto kern = std::make_unique<MatMulKernel>();
  kern->k_ = k;
  // Output shape: NumPy's, with the promoted 1-D dims removed again.
  Shape out(obatch.begin(), obatch.end());
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(nn);
  // The ONNX shape may have fewer leading batch dims than the padded rank (it is the broadcast of
  // the original ranks); the padded dims are all 1, so the bytes agree.
  kern->out_shape_ = out;
  if (auto os = info.output_shape(0); os && NumElements(*os) == NumElements(out)) kern->out_shape_ = *os;
  MatMulSetup s;
  TUTTI_ASSIGN_OR_RETURN(s.act, ParseFusedActivation(n));
  kern->act_ = s.act;
  s.a = MatrixDesc(abatch, m, k, false);
  s.b = MatrixDesc(bbatch, k, nn, false);
  memory::dims odims = obatch;
  odims.push_back(m);
  odims.push_back(nn);
  s.dst = PlainDesc(Shape(odims.begin(), odims.end()));
  if (const Tensor* bt = info.constant_input(1)) s.b_const = bt->raw_data();
  if (HasFusedSum(n)) {
    if (!n.HasInput(2)) return InvalidArgument("_fused_sum is set but input 2 is absent");
    s.sum = true;
    kern->prefill_input_ = 2;
  }
  if (k > 0 && NumElements(out) > 0) {
    TUTTI_RETURN_IF_ERROR(Build(*kern, s));
    TUTTI_RETURN_IF_ERROR(CutIntoBlocks(*kern, s, info, m, nn, k, false));
  }
  return std::unique_ptr<LayoutAwareKernel>(std::move(kern));
}

Status SupportsMatMul(const Graph& g, const Node& n) {
  for (size_t i = 0; i < 2; ++i) {
    if (!n.HasInput(i)) return InvalidArgument(n.op_type, " needs input ", i);
    DataType t = g.value(n.inputs[i]).info.dtype;
    if (t != DataType::kFloat32 && t != DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  }
  auto act = ParseFusedActivation(n);
  return act.ok() ? Status::Ok() : act.status();
}

template <auto Factory>
Result<std::unique_ptr<CpuKernel>> AsKernel(const KernelBuildInfo& info) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<LayoutAwareKernel> k, Factory(info, LayoutRequest{}));
  return std::unique_ptr<CpuKernel>(std::move(k));
}

TUTTI_REGISTER_CPU_KERNEL("Gemm", "", AsKernel<MakeGemm>, SupportsMatMul);
TUTTI_REGISTER_CPU_KERNEL("MatMul", "", AsKernel<MakeMatMul>, SupportsMatMul);

}  // namespace
}  // namespace tutti::cpu
