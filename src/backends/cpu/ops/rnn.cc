// The recurrent layers exporters emit for nn.RNN / nn.GRU / nn.LSTM: RNN, GRU and LSTM with every
// ONNX attribute models use -- direction (forward/reverse/bidirectional), layout 0/1,
// sequence_lens, initial states, LSTM peepholes, GRU linear_before_reset, clip and the named
// activation functions with their alpha/beta. The gate products are small per-step GEMVs over
// the batch; they are written directly (one time step depends on the previous one).
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class Cell { kRnn, kGru, kLstm };

struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
  template <typename T>
  T operator()(T x) const {
    if (name == "Sigmoid") return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
    if (name == "Tanh") return std::tanh(x);
    if (name == "Relu") return std::max(T(0), x);
    if (name == "Affine") return static_cast<T>(alpha) * x + static_cast<T>(beta);
    if (name == "LeakyRelu") return x < 0 ? static_cast<T>(alpha) * x : x;
    if (name == "ThresholdedRelu") return x > static_cast<T>(alpha) ? x : T(0);
    if (name == "ScaledTanh") return static_cast<T>(alpha) * std::tanh(static_cast<T>(beta) * x);
    if (name == "HardSigmoid") return std::max(T(0), std::min(T(1), static_cast<T>(alpha) * x + static_cast<T>(beta)));
    if (name == "Elu") return x < 0 ? static_cast<T>(alpha) * (std::exp(x) - T(1)) : x;
    if (name == "Softsign") return x / (T(1) + std::abs(x));
    if (name == "Softplus") return std::log1p(std::exp(x));
    return x;
  }
};

struct RnnAttrs {
  Cell cell = Cell::kRnn;
  int64_t hidden = 0, dirs = 1, layout = 0;
  bool reverse_only = false;
  bool linear_before_reset = false;
  float clip = 0;  // 0: no clipping
  std::vector<Activation> acts;  // per direction: gates_per_cell activations
};

int GateCount(Cell c) { return c == Cell::kRnn ? 1 : (c == Cell::kGru ? 3 : 4); }
size_t ActivationsPerDir(Cell c) { return c == Cell::kRnn ? 1 : (c == Cell::kGru ? 2 : 3); }

bool KnownActivation(const std::string& a) {
  for (const char* k : {"Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh",
                        "HardSigmoid", "Elu", "Softsign", "Softplus"})
    if (a == k) return true;
  return false;
}

Result<RnnAttrs> ReadAttrs(const Node& n) {
  RnnAttrs a;
  a.cell = n.op_type == "LSTM" ? Cell::kLstm : (n.op_type == "GRU" ? Cell::kGru : Cell::kRnn);
  a.hidden = n.GetInt("hidden_size", 0);
  a.layout = n.GetInt("layout", 0);
  a.linear_before_reset = n.GetInt("linear_before_reset", 0) != 0;
  a.clip = n.HasAttr("clip") ? n.GetFloat("clip", 0) : 0.f;
  const std::string dir = n.GetString("direction", "forward");
  if (dir == "bidirectional") a.dirs = 2;
  else if (dir == "reverse") a.reverse_only = true;
  else if (dir != "forward") return InvalidArgument("direction '", dir, "'");
  if (a.layout != 0 && a.layout != 1) return InvalidArgument("layout ", a.layout);
  if (n.GetInt("input_forget", 0) != 0) return Unimplemented("LSTM input_forget=1");
  std::vector<std::string> names;
  if (n.HasAttr("activations")) {
    const AttrValue& v = n.attrs.at("activations");
    if (const auto* s = std::get_if<std::vector<std::string>>(&v)) names = *s;
  }
  const size_t per = ActivationsPerDir(a.cell);
  if (names.empty()) {
    const std::vector<std::string> dflt = a.cell == Cell::kRnn   ? std::vector<std::string>{"Tanh"}
                                          : a.cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                 : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    for (int64_t d = 0; d < a.dirs; ++d) names.insert(names.end(), dflt.begin(), dflt.end());
  }
  if (names.size() != per * static_cast<size_t>(a.dirs))
    return InvalidArgument(names.size(), " activations given, ", per * static_cast<size_t>(a.dirs), " expected");
  const std::vector<float> alphas = n.GetFloats("activation_alpha"), betas = n.GetFloats("activation_beta");
  size_t ai = 0, bi = 0;
  for (const std::string& name : names) {
    if (!KnownActivation(name)) return Unimplemented("activation '", name, "'");
    Activation act{name};
    // alpha/beta are consumed in order by the functions that take them, with ONNX's defaults.
    const bool uses_alpha = name == "Affine" || name == "LeakyRelu" || name == "ThresholdedRelu" ||
                            name == "ScaledTanh" || name == "HardSigmoid" || name == "Elu";
    const bool uses_beta = name == "Affine" || name == "ScaledTanh" || name == "HardSigmoid";
    act.alpha = name == "LeakyRelu" ? 0.01f : (name == "HardSigmoid" ? 0.2f : 1.f);
    act.beta = name == "HardSigmoid" ? 0.5f : 0.f;
    if (uses_alpha && ai < alphas.size()) act.alpha = alphas[ai++];
    if (uses_beta && bi < betas.size()) act.beta = betas[bi++];
    a.acts.push_back(act);
  }
  return a;
}

template <typename T>
Status Compute(const RnnAttrs& a, KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* w = ctx.input(1);
  const Tensor* r = ctx.input(2);
  const Tensor* bias = ctx.input(3);
  const Tensor* lens_t = ctx.input(4);
  const Tensor* h0 = ctx.input(5);
  const Tensor* c0 = a.cell == Cell::kLstm ? ctx.input(6) : nullptr;
  const Tensor* peep = a.cell == Cell::kLstm ? ctx.input(7) : nullptr;
  if (!x || !w || !r) return InvalidArgument("X, W and R are required");
  if (x->rank() != 3) return InvalidArgument("X must be 3-D, got ", x->DebugString());
  const int64_t seq = a.layout ? x->dim(1) : x->dim(0), batch = a.layout ? x->dim(0) : x->dim(1), in = x->dim(2);
  const int64_t H = a.hidden, G = GateCount(a.cell), D = a.dirs;
  if (w->shape() != Shape{D, G * H, in} || r->shape() != Shape{D, G * H, H})
    return InvalidArgument("W ", w->DebugString(), " / R ", r->DebugString(), " do not fit hidden_size ", H, " and X ",
                           x->DebugString());
  if (bias && bias->shape() != Shape{D, 2 * G * H}) return InvalidArgument("B must be [", D, ",", 2 * G * H, "]");
  if (peep && peep->shape() != Shape{D, 3 * H}) return InvalidArgument("P must be [", D, ",", 3 * H, "]");
  const Shape state_shape = a.layout ? Shape{batch, D, H} : Shape{D, batch, H};
  if ((h0 && h0->shape() != state_shape) || (c0 && c0->shape() != state_shape))
    return InvalidArgument("initial state must be ", ShapeToString(state_shape));
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (lens_t) {
    lens = lens_t->ToInt64Vector();
    if (static_cast<int64_t>(lens.size()) != batch) return InvalidArgument("sequence_lens must have ", batch, " entries");
    for (int64_t l : lens)
      if (l < 0 || l > seq) return InvalidArgument("sequence length ", l, " is outside [0, ", seq, "]");
  }
  Tensor* y = nullptr;
  Tensor* yh = nullptr;
  Tensor* yc = nullptr;
  if (ctx.output_wanted(0)) {
    TUTTI_ASSIGN_OR_RETURN(y, ctx.AllocateOutput(0, a.layout ? Shape{batch, seq, D, H} : Shape{seq, D, batch, H},
                                                 x->dtype()));
    std::fill_n(y->data<T>(), y->num_elements(), T(0));
  }
  if (ctx.output_wanted(1)) {
    TUTTI_ASSIGN_OR_RETURN(yh, ctx.AllocateOutput(1, state_shape, x->dtype()));
  }
  if (a.cell == Cell::kLstm && ctx.output_wanted(2)) {
    TUTTI_ASSIGN_OR_RETURN(yc, ctx.AllocateOutput(2, state_shape, x->dtype()));
  }
  // Index helpers over the two layouts.
  auto x_at = [&](int64_t t, int64_t b) { return x->data<T>() + (a.layout ? (b * seq + t) : (t * batch + b)) * in; };
  auto state_at = [&](int64_t d, int64_t b) { return a.layout ? (b * D + d) * H : (d * batch + b) * H; };
  auto y_at = [&](int64_t t, int64_t d, int64_t b) {
    return y->data<T>() + (a.layout ? ((b * seq + t) * D + d) * H : ((t * D + d) * batch + b) * H);
  };
  const float clip = a.clip;
  auto clipv = [clip](T v) { return clip > 0 ? std::clamp(v, static_cast<T>(-clip), static_cast<T>(clip)) : v; };
  const size_t per = ActivationsPerDir(a.cell);
  std::vector<T> gx(static_cast<size_t>(G * H)), gh(static_cast<size_t>(G * H)), h(static_cast<size_t>(H)),
      c(static_cast<size_t>(H)), hn(static_cast<size_t>(H));
  for (int64_t d = 0; d < D; ++d) {
    const bool backward = a.reverse_only || d == 1;
    const T* W = w->data<T>() + d * G * H * in;
    const T* R = r->data<T>() + d * G * H * H;
    const T* Wb = bias ? bias->data<T>() + d * 2 * G * H : nullptr;
    const T* Rb = bias ? Wb + G * H : nullptr;
    const T* P = peep ? peep->data<T>() + d * 3 * H : nullptr;
    const Activation& f = a.acts[static_cast<size_t>(d) * per];
    const Activation& g = per > 1 ? a.acts[static_cast<size_t>(d) * per + 1] : f;
    const Activation& hact = per > 2 ? a.acts[static_cast<size_t>(d) * per + 2] : f;
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t k = 0; k < H; ++k) {
        h[static_cast<size_t>(k)] = h0 ? h0->data<T>()[state_at(d, b) + k] : T(0);
        c[static_cast<size_t>(k)] = c0 ? c0->data<T>()[state_at(d, b) + k] : T(0);
      }
      const int64_t L = lens[static_cast<size_t>(b)];
      for (int64_t s = 0; s < L; ++s) {
        const int64_t t = backward ? L - 1 - s : s;
        const T* xt = x_at(t, b);
        for (int64_t j = 0; j < G * H; ++j) {
          T ax = Wb ? Wb[j] : T(0), ah = Rb ? Rb[j] : T(0);
          for (int64_t i = 0; i < in; ++i) ax += W[j * in + i] * xt[i];
          for (int64_t i = 0; i < H; ++i) ah += R[j * H + i] * h[static_cast<size_t>(i)];
          gx[static_cast<size_t>(j)] = ax;
          gh[static_cast<size_t>(j)] = ah;
        }
        const size_t HH = static_cast<size_t>(H);
        if (a.cell == Cell::kRnn) {
          for (size_t k = 0; k < HH; ++k) hn[k] = f(clipv(gx[k] + gh[k]));
        } else if (a.cell == Cell::kGru) {  // gates z, r, h
          std::vector<T> rg(HH);
          for (size_t k = 0; k < HH; ++k) rg[k] = f(clipv(gx[HH + k] + gh[HH + k]));
          for (size_t k = 0; k < HH; ++k) {
            const T z = f(clipv(gx[k] + gh[k]));
            T pre;
            if (a.linear_before_reset) {
              pre = gx[2 * HH + k] + rg[k] * gh[2 * HH + k];
            } else {  // (r . h) R_h^T + Rb_h
              T acc = Rb ? Rb[2 * HH + k] : T(0);
              const T* row = R + (2 * HH + k) * HH;
              for (size_t i = 0; i < HH; ++i) acc += row[i] * rg[i] * h[i];
              pre = gx[2 * HH + k] + acc;
            }
            hn[k] = (T(1) - z) * g(clipv(pre)) + z * h[k];
          }
        } else {  // gates i, o, f, c
          for (size_t k = 0; k < HH; ++k) {
            const T ci = c[k];
            const T ig = f(clipv(gx[k] + gh[k] + (P ? P[k] * ci : T(0))));
            const T fg = f(clipv(gx[2 * HH + k] + gh[2 * HH + k] + (P ? P[2 * HH + k] * ci : T(0))));
            const T cc = g(clipv(gx[3 * HH + k] + gh[3 * HH + k]));
            const T cn = fg * ci + ig * cc;
            const T og = f(clipv(gx[HH + k] + gh[HH + k] + (P ? P[HH + k] * cn : T(0))));
            c[k] = cn;
            hn[k] = og * hact(cn);
          }
        }
        h = hn;
        if (y) std::copy(h.begin(), h.end(), y_at(t, d, b));
      }
      if (yh) std::copy(h.begin(), h.end(), yh->data<T>() + state_at(d, b));
      if (yc) std::copy(c.begin(), c.end(), yc->data<T>() + state_at(d, b));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeRnn(const KernelBuildInfo& info) {
  TUTTI_ASSIGN_OR_RETURN(RnnAttrs a, ReadAttrs(info.node));
  return MakeKernel([a](KernelContext& ctx) -> Status {
    const Tensor* x = ctx.input(0);
    if (!x) return InvalidArgument("X is required");
    Status st = Status::Ok();
    bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) { st = Compute<decltype(tag)>(a, ctx); });
    if (!known) return Unimplemented(x->dtype() == DataType::kUndefined ? "undefined" : DataTypeName(x->dtype()), " input");
    return st;
  });
}

Status SupportsRnn(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(ReadAttrs(n).status());
  if (n.GetInt("hidden_size", 0) <= 0) return InvalidArgument(n.op_type, " needs hidden_size");
  return RequireInputType(g, n, 0, FloatTypes{});
}

TUTTI_REGISTER_CPU_KERNEL("RNN", "", MakeRnn, SupportsRnn);
TUTTI_REGISTER_CPU_KERNEL("GRU", "", MakeRnn, SupportsRnn);
TUTTI_REGISTER_CPU_KERNEL("LSTM", "", MakeRnn, SupportsRnn);

}  // namespace
}  // namespace tutti::cpu
