// Concat of float feature maps on the channel axis through oneDNN, in the layouts the producers
// wrote. SqueezeNet's Fire modules, DenseNet's dense blocks and Inception's branches join
// convolution outputs on channels; with the generic (plain) Concat each input was reordered from
// the convolution's blocked layout to plain, copied, and the result reordered back for the next
// convolution: three passes over the data where oneDNN's concat makes one. Other Concats (other
// axes, dtypes, ranks, unknown shapes) keep the generic kernel in movement.cc.
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;

class ChannelConcatKernel final : public LayoutAwareKernel {
 public:
  static Result<std::unique_ptr<LayoutAwareKernel>> Make(const KernelBuildInfo& info, const LayoutRequest& req) {
    const Node& n = info.node;
    auto k = std::make_unique<ChannelConcatKernel>();
    std::vector<memory::desc> srcs;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      auto s = info.input_shape(i);
      if (!s) return InvalidArgument("input ", i, " shape must be known at compile time");
      if (NumElements(*s) == 0) continue;  // an empty input adds nothing
      k->inputs_.push_back(i);
      srcs.push_back(req.input(i) ? *req.input(i) : PlainDesc(*s));
    }
    auto os = info.output_shape(0);
    if (!os || k->inputs_.empty()) return InvalidArgument("output shape must be known and non-empty at compile time");
    k->out_shape_ = *os;
    const memory::desc out_plain = PlainDesc(k->out_shape_);
    Status st = DnnlTry("creating the concat", [&] {
      // With a free output layout oneDNN follows its inputs', so the next convolution reads it as is.
      const memory::desc dst = req.output_may_block ? memory::desc(ToDnnlDims(k->out_shape_), memory::data_type::f32,
                                                                   memory::format_tag::any)
                                                    : out_plain;
      k->pd_ = dnnl::concat::primitive_desc(dst, 1, srcs, DnnlEngine(), MakeAttr());
      k->prim_ = dnnl::concat(k->pd_);
      for (const memory::desc& md : srcs) k->src_mem_.emplace_back(md, DnnlEngine(), nullptr);
      k->dst_mem_ = memory(k->pd_.dst_desc(), DnnlEngine(), nullptr);
    });
    if (!st.ok()) return st;
    return std::unique_ptr<LayoutAwareKernel>(std::move(k));
  }

  Status Run(KernelContext& ctx) override {
    std::unordered_map<int, memory> args;
    for (size_t j = 0; j < inputs_.size(); ++j) {
      const Tensor* t = ctx.input(inputs_[j]);
      if (!t) return InvalidArgument("missing input ", inputs_[j]);
      src_mem_[j].set_data_handle(const_cast<void*>(t->raw_data()));
      args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(j)] = src_mem_[j];
    }
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape_, DataType::kFloat32));
    return DnnlTry("concat", [&] {
      dst_mem_.set_data_handle(y->raw_data());
      args[DNNL_ARG_DST] = dst_mem_;
      args[DNNL_ARG_SCRATCHPAD] = DnnlScratchpad(pd_);
      prim_.execute(DnnlStream(), args);
      DnnlStream().wait();
    });
  }

  memory::desc output_desc() const override { return IsPlain(pd_.dst_desc()) ? memory::desc() : pd_.dst_desc(); }
  size_t output_bytes() const override { return pd_.dst_desc().get_size(); }

 private:
  std::vector<size_t> inputs_;  // non-empty inputs, in order
  dnnl::concat::primitive_desc pd_;
  dnnl::concat prim_;
  std::vector<memory> src_mem_;
  memory dst_mem_;
  Shape out_shape_;
};

// Float feature maps (rank 3 to 5, as convolutions produce) with known shapes, joined on axis 1.
bool ConcatsChannels(const Graph& g, const Node& n) {
  if (n.outputs.size() != 1 || n.outputs[0] == kNoValue || n.inputs.empty()) return false;
  const Value& out = g.value(n.outputs[0]);
  if (out.info.dtype != DataType::kFloat32 || !out.info.shape || !ToConcrete(*out.info.shape)) return false;
  const int64_t rank = static_cast<int64_t>(out.info.shape->size());
  if (rank < 3 || rank > 5) return false;
  int64_t axis = n.GetInt("axis", 0);
  if (axis < 0) axis += rank;
  if (axis != 1) return false;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!n.HasInput(i)) return false;
    const Value& v = g.value(n.inputs[i]);
    if (v.info.dtype != DataType::kFloat32 || !v.info.shape || v.info.shape->size() != out.info.shape->size() ||
        !ToConcrete(*v.info.shape))
      return false;
  }
  return true;
}

TUTTI_REGISTER_LAYOUT_AWARE_VARIANT("Concat", ChannelConcatKernel::Make, ConcatsChannels);

}  // namespace
}  // namespace tutti::cpu
