#include "backends/cpu/ops/conv_blocks.h"

#include <omp.h>

#include <numeric>
#include <optional>

#include "backends/cpu/asymmetric/block_cost_model.h"

namespace tutti::cpu {

using dnnl::memory;
using tag = memory::format_tag;

namespace {

// Fewest output channels per block: one AVX-512 vector.
constexpr int64_t kMinBlockChannels = 16;

// How a tensor of `dims` in layout `md` gives up a channel range, and its layout block (1 when any
// channel may start a range); nullopt for any other layout.
std::optional<ConvBlocks::Access> AccessOf(const memory::desc& md, const Shape& dims, int64_t* channel_block) {
  struct Known {
    tag t;
    int64_t block;
    bool channels_last;
  };
  static const std::vector<Known> kTags[] = {
      {{tag::abc, 1, false}, {tag::aBc16b, 16, false}, {tag::aBc8b, 8, false}, {tag::acb, 1, true}},
      {{tag::abcd, 1, false}, {tag::aBcd16b, 16, false}, {tag::aBcd8b, 8, false}, {tag::acdb, 1, true}},
      {{tag::abcde, 1, false}, {tag::aBcde16b, 16, false}, {tag::aBcde8b, 8, false}, {tag::acdeb, 1, true}}};
  if (dims.size() < 3 || dims.size() > 5 || md.is_zero()) return std::nullopt;
  const int64_t spatial = NumElements(Shape(dims.begin() + 2, dims.end()));
  for (const Known& k : kTags[dims.size() - 3]) {
    if (md != memory::desc(ToDnnlDims(dims), memory::data_type::f32, k.t)) continue;
    ConvBlocks::Access a;
    a.direct = !k.channels_last;
    a.block_tag = k.t;
    a.image_bytes = md.get_size() / static_cast<size_t>(dims[0]);
    a.channel_bytes = k.channels_last ? sizeof(float) : static_cast<size_t>(spatial) * sizeof(float);
    if (k.channels_last) {
      const auto& s = md.data.format_desc.blocking.strides;
      a.strides.assign(s, s + dims.size());
    }
    *channel_block = k.block;
    return a;
  }
  return std::nullopt;
}

Shape WithChannels(const Shape& s, int64_t n, int64_t c) {
  Shape r = s;
  r[0] = n;
  r[1] = c;
  return r;
}

// A block's own tensor of `channels` channels, and (channels-last) its view inside the full tensor.
memory::desc BlockDesc(const ConvBlocks::Access& a, const Shape& full, int64_t channels) {
  return memory::desc(ToDnnlDims(WithChannels(full, 1, channels)), memory::data_type::f32, a.block_tag);
}
memory::desc ViewDesc(const ConvBlocks::Access& a, const Shape& full, int64_t channels) {
  return memory::desc(ToDnnlDims(WithChannels(full, 1, channels)), memory::data_type::f32, a.strides);
}

// Grow-only scratch of the calling worker: slot 0 a gathered input, slot 1 a block's output.
void* WorkerBuffer(int slot, size_t bytes) {
  thread_local std::shared_ptr<void> buffer[2];
  thread_local size_t capacity[2] = {0, 0};
  if (bytes > capacity[slot]) {
    buffer[slot] = AlignedBuffer(bytes);
    capacity[slot] = bytes;
  }
  return buffer[slot].get();
}

}  // namespace

Result<std::unique_ptr<ConvBlocks>> ConvBlocks::Make(const ConvBlockSetup& s, asymmetric::CorePool& pool,
                                                     CpuPartition mode) {
  if (!s.weights || pool.size() < 2) return std::unique_ptr<ConvBlocks>();
  int64_t bs = 0, bd = 0;
  auto src_access = AccessOf(s.src, s.x, &bs);
  auto dst_access = AccessOf(s.dst, s.y, &bd);
  if (!src_access || !dst_access) return std::unique_ptr<ConvBlocks>();
  auto b = std::unique_ptr<ConvBlocks>(new ConvBlocks());
  b->pool_ = &pool;
  b->src_ = *src_access;
  b->dst_ = *dst_access;
  b->has_sum_ = s.has_sum;
  const int64_t n = s.x[0], c_in = s.x[1], c_out = s.y[1];
  const int64_t in_sp = NumElements(Shape(s.x.begin() + 2, s.x.end()));
  const int64_t out_sp = NumElements(Shape(s.y.begin() + 2, s.y.end()));
  const int64_t ks = NumElements(s.kernel);
  b->grouped_ = s.groups > 1;
  int64_t extent, granule;
  std::function<asymmetric::BlockShape(int64_t)> shape_of;
  if (!b->grouped_) {
    extent = c_out;
    granule = std::lcm(bd, kMinBlockChannels);
    shape_of = [=](int64_t e) {
      return asymmetric::BlockShape{double(c_in * in_sp), double(e * c_in * ks), double(e * out_sp),
                                    2.0 * double(e * out_sp) * double(c_in * ks)};
    };
  } else {
    b->icg_ = c_in / s.groups;
    b->ocg_ = c_out / s.groups;
    const int64_t icg = b->icg_, ocg = b->ocg_;
    extent = s.groups;
    // The fewest groups whose input and output channels both start on a layout block, in whole
    // multiples giving at least kMinBlockChannels output channels.
    const int64_t aligned = std::lcm(bs / std::gcd(bs, icg), bd / std::gcd(bd, ocg));
    const int64_t min_groups = (kMinBlockChannels + ocg - 1) / ocg;
    granule = (min_groups + aligned - 1) / aligned * aligned;
    shape_of = [=](int64_t e) {
      return asymmetric::BlockShape{double(e * icg * in_sp), double(e * ocg * icg * ks), double(e * ocg * out_sp),
                                    2.0 * double(e * ocg * out_sp) * double(icg * ks)};
    };
  }
  if (extent < 2 * granule) return std::unique_ptr<ConvBlocks>();  // one block: nothing to share
  b->partition_ = asymmetric::BlockPartition::Make(mode, pool, asymmetric::ProcessCostModel(), n, extent, granule, shape_of);
  if (b->partition_.blocks().empty()) return std::unique_ptr<ConvBlocks>();  // runs whole

  Status st = DnnlTry("creating the convolution blocks", [&] {
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);  // primitives for one core
    try {
      for (int64_t e : b->partition_.extents()) {
        const int64_t ic = b->grouped_ ? e * b->icg_ : c_in, oc = b->grouped_ ? e * b->ocg_ : e;
        const memory::desc src = BlockDesc(b->src_, s.x, ic), dst = BlockDesc(b->dst_, s.y, oc);
        memory::dims wdims = b->grouped_ ? memory::dims{e, b->ocg_, b->icg_} : memory::dims{e, c_in};
        wdims.insert(wdims.end(), s.kernel.begin(), s.kernel.end());
        const memory::desc w_any(wdims, memory::data_type::f32, tag::any);
        const memory::desc bias = s.has_bias ? memory::desc({oc}, memory::data_type::f32, tag::a) : memory::desc();
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                          w_any, bias, dst, s.strides, s.dilations, s.pad_begin, s.pad_end);
        dnnl::convolution_forward::primitive_desc pd(d, MakeAttr(s.ops), DnnlEngine());
        Prim p{dnnl::convolution_forward(pd), pd, {}, {}, {}};
        if (b->grouped_ && !b->src_.direct)
          p.src_gather = dnnl::reorder(dnnl::reorder::primitive_desc(DnnlEngine(), ViewDesc(b->src_, s.x, ic), DnnlEngine(), src));
        if (!b->dst_.direct) {
          const memory::desc view = ViewDesc(b->dst_, s.y, oc);
          if (s.has_sum) p.dst_gather = dnnl::reorder(dnnl::reorder::primitive_desc(DnnlEngine(), view, DnnlEngine(), dst));
          p.dst_scatter = dnnl::reorder(dnnl::reorder::primitive_desc(DnnlEngine(), dst, DnnlEngine(), view));
        }
        b->prims_[e] = std::move(p);
      }
    } catch (...) {
      omp_set_num_threads(before);
      throw;
    }
    omp_set_num_threads(before);
    // Each block's weights: its slice of the ONNX buffer (strides, no copy) reordered once.
    std::vector<int64_t> kstrides(s.kernel.size());
    int64_t st = 1;
    for (size_t i = s.kernel.size(); i-- > 0;) kstrides[i] = st, st *= s.kernel[i];
    for (const asymmetric::Block& blk : b->partition_.blocks()) {
      if (blk.image != 0) break;  // every image is cut the same way
      const int64_t e = blk.extent();
      memory::dims wdims, wstrides;
      const float* from;
      if (!b->grouped_) {
        wdims = {e, c_in};
        wstrides = {c_in * ks, ks};
        from = s.weights + blk.begin * c_in * ks;
      } else {
        wdims = {e, b->ocg_, b->icg_};
        wstrides = {b->ocg_ * b->icg_ * ks, b->icg_ * ks, ks};
        from = s.weights + blk.begin * b->ocg_ * b->icg_ * ks;
      }
      wdims.insert(wdims.end(), s.kernel.begin(), s.kernel.end());
      wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
      const memory::desc user(wdims, memory::data_type::f32, wstrides);
      const memory::desc want = b->prims_.at(e).pd.weights_desc();
      b->weights_[blk.begin] = ReorderConstant(from, user, want);
      b->weight_bytes_ += want.get_size();
    }
  });
  if (!st.ok()) return st;
  return b;
}

Status ConvBlocks::Run(const void* src, void* dst, const void* bias) {
  const char* src_bytes = static_cast<const char*>(src);
  char* dst_bytes = static_cast<char*>(dst);
  const float* bias_f = static_cast<const float*>(bias);
  return partition_.Run(*pool_, [&](const asymmetric::Block& blk) -> Status {
    const Prim& p = prims_.at(blk.extent());
    const int64_t in_c0 = grouped_ ? blk.begin * icg_ : 0;
    const int64_t out_c0 = grouped_ ? blk.begin * ocg_ : blk.begin;
    char* s = const_cast<char*>(src_bytes) + static_cast<size_t>(blk.image) * src_.image_bytes +
              static_cast<size_t>(in_c0) * src_.channel_bytes;
    char* d = dst_bytes + static_cast<size_t>(blk.image) * dst_.image_bytes + static_cast<size_t>(out_c0) * dst_.channel_bytes;
    return DnnlTry("convolution block", [&] {
      dnnl::stream& stream = DnnlStream();
      void* s_use = s;
      if (grouped_ && !src_.direct) {
        s_use = WorkerBuffer(0, p.pd.src_desc().get_size());
        const memory::desc view(p.pd.src_desc().dims(), memory::data_type::f32, src_.strides);
        memory from(view, DnnlEngine(), s), to(p.pd.src_desc(), DnnlEngine(), s_use);
        p.src_gather.execute(stream, from, to);
      }
      void* d_use = d;
      const memory::desc dst_view = dst_.direct ? memory::desc() : memory::desc(p.pd.dst_desc().dims(), memory::data_type::f32, dst_.strides);
      if (!dst_.direct) {
        d_use = WorkerBuffer(1, p.pd.dst_desc().get_size());
        if (has_sum_) {  // the fused sum adds onto the residual already in the output
          memory from(dst_view, DnnlEngine(), d), to(p.pd.dst_desc(), DnnlEngine(), d_use);
          p.dst_gather.execute(stream, from, to);
        }
      }
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, memory(p.pd.src_desc(), DnnlEngine(), s_use)},
          {DNNL_ARG_WEIGHTS, memory(p.pd.weights_desc(), DnnlEngine(), weights_.at(blk.begin).get())},
          {DNNL_ARG_DST, memory(p.pd.dst_desc(), DnnlEngine(), d_use)},
          {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(p.pd)}};
      if (bias_f) args[DNNL_ARG_BIAS] = memory(p.pd.bias_desc(), DnnlEngine(), const_cast<float*>(bias_f + out_c0));
      p.prim.execute(stream, args);
      if (!dst_.direct) {
        memory from(p.pd.dst_desc(), DnnlEngine(), d_use), to(dst_view, DnnlEngine(), d);
        p.dst_scatter.execute(stream, from, to);
      }
      stream.wait();
    });
  });
}

}  // namespace tutti::cpu
