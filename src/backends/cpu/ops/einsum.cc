// Einsum: any equation ONNX allows (explicit or implicit output, "..." ellipsis, repeated labels
// for diagonals, broadcasting of size-1 dims). Each operand is described by one stride per label
// (repeated labels add their strides: a diagonal walk), then every output element sums the
// product over the contracted labels. A naive loop, but one with no copies; the matrix-product
// forms that dominate real models are left to MatMul, which exporters emit for them.
#include <map>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

struct Equation {
  std::vector<std::string> inputs;  // labels per operand, ellipsis expanded to '0'.. '9'
  std::string output;
};

bool IsLabel(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Expands "..." of an operand of rank `rank` into digit labels (right-aligned across operands).
Result<std::string> Expand(const std::string& term, int64_t rank, int64_t* ellipsis_rank) {
  const size_t dots = term.find("...");
  std::string letters;
  for (char c : term)
    if (c != '.') {
      if (!IsLabel(c)) return InvalidArgument("bad label '", std::string(1, c), "' in einsum term '", term, "'");
      letters += c;
    }
  if (dots == std::string::npos) {
    if (static_cast<int64_t>(letters.size()) != rank)
      return InvalidArgument("einsum term '", term, "' has ", letters.size(), " labels for a rank-", rank, " operand");
    return letters;
  }
  const int64_t e = rank - static_cast<int64_t>(letters.size());
  if (e < 0 || e > 10) return InvalidArgument("einsum term '", term, "' does not fit a rank-", rank, " operand");
  *ellipsis_rank = std::max(*ellipsis_rank, e);
  std::string mid;
  for (int64_t i = 0; i < e; ++i) mid += static_cast<char>('0' + (10 - e + i));
  std::string before, after;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') continue;
    (i < dots ? before : after) += term[i];
  }
  return before + mid + after;
}

Result<Equation> Parse(std::string eq, const std::vector<const Tensor*>& ops) {
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  size_t start = 0;
  for (size_t comma; (comma = lhs.find(',', start)) != std::string::npos; start = comma + 1)
    terms.push_back(lhs.substr(start, comma - start));
  terms.push_back(lhs.substr(start));
  if (terms.size() != ops.size())
    return InvalidArgument("einsum equation '", eq, "' names ", terms.size(), " operands, got ", ops.size());
  Equation e;
  int64_t ell = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    TUTTI_ASSIGN_OR_RETURN(std::string t, Expand(terms[i], ops[i]->rank(), &ell));
    e.inputs.push_back(t);
  }
  std::string ell_labels;
  for (int64_t i = 0; i < ell; ++i) ell_labels += static_cast<char>('0' + (10 - ell + i));
  if (arrow != std::string::npos) {
    const std::string rhs = eq.substr(arrow + 2);
    const size_t dots = rhs.find("...");
    for (size_t i = 0; i < rhs.size(); ++i) {
      if (rhs[i] == '.') continue;
      if (!IsLabel(rhs[i])) return InvalidArgument("bad output label in '", eq, "'");
      if (dots != std::string::npos && i > dots && e.output.size() == dots) e.output += ell_labels;
      e.output += rhs[i];
    }
    if (dots != std::string::npos && e.output.size() <= dots) e.output += ell_labels;
  } else {
    // Implicit output: ellipsis dims, then labels used once, in alphabetical order.
    std::map<char, int> count;
    for (const std::string& t : e.inputs)
      for (char c : t)
        if (IsLabel(c)) ++count[c];
    e.output = ell_labels;
    for (const auto& [c, n] : count)
      if (n == 1) e.output += c;
  }
  return e;
}

Status RunEinsum(const std::string& equation, KernelContext& ctx) {
  std::vector<const Tensor*> ops;
  for (size_t i = 0; i < ctx.input_count(); ++i)
    if (ctx.input(i)) ops.push_back(ctx.input(i));
  if (ops.empty()) return InvalidArgument("Einsum needs an operand");
  for (const Tensor* t : ops)
    if (t->dtype() != ops[0]->dtype()) return InvalidArgument("Einsum operands must share one type");
  TUTTI_ASSIGN_OR_RETURN(Equation eq, Parse(equation, ops));
  // Label sizes (size-1 dims broadcast against larger ones).
  std::map<char, int64_t> size;
  for (size_t k = 0; k < ops.size(); ++k)
    for (size_t d = 0; d < eq.inputs[k].size(); ++d) {
      const char c = eq.inputs[k][d];
      const int64_t n = ops[k]->shape()[d];
      auto [it, fresh] = size.emplace(c, n);
      if (!fresh && it->second != n) {
        if (it->second == 1) it->second = n;
        else if (n != 1) return InvalidArgument("einsum label '", std::string(1, c), "' is ", it->second, " and ", n);
      }
    }
  std::string sum_labels;
  for (const auto& [c, n] : size)
    if (eq.output.find(c) == std::string::npos) sum_labels += c;
  Shape out_shape, sum_shape;
  for (char c : eq.output) {
    if (!size.count(c)) return InvalidArgument("einsum output label '", std::string(1, c), "' is not an input label");
    out_shape.push_back(size[c]);
  }
  for (char c : sum_labels) sum_shape.push_back(size[c]);
  // Per operand: stride for each output label and each summed label.
  const size_t n_ops = ops.size();
  std::vector<std::vector<int64_t>> out_stride(n_ops), sum_stride(n_ops);
  for (size_t k = 0; k < n_ops; ++k) {
    const std::vector<int64_t> st = ContiguousStrides(ops[k]->shape());
    auto stride_of = [&](char c) {
      int64_t s = 0;
      for (size_t d = 0; d < eq.inputs[k].size(); ++d)
        if (eq.inputs[k][d] == c && ops[k]->shape()[d] != 1) s += st[d];
      return s;
    };
    for (char c : eq.output) out_stride[k].push_back(stride_of(c));
    for (char c : sum_labels) sum_stride[k].push_back(stride_of(c));
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, ops[0]->dtype()));
  const int64_t n_sum = NumElements(sum_shape);
  bool known = DispatchType(TypeList<float, double, int32_t, int64_t>{}, ops[0]->dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    T* out = y->data<T>();
    ParallelRanges(y->num_elements(), n_sum * static_cast<int64_t>(n_ops), [&](int64_t b, int64_t e) {
      std::vector<int64_t> base(n_ops), off(n_ops), c(sum_shape.size());
      for (int64_t i = b; i < e; ++i) {
        std::fill(base.begin(), base.end(), 0);
        for (int64_t rest = i, d = static_cast<int64_t>(out_shape.size()) - 1; d >= 0; --d) {
          const int64_t v = rest % out_shape[static_cast<size_t>(d)];
          rest /= out_shape[static_cast<size_t>(d)];
          for (size_t k = 0; k < n_ops; ++k) base[k] += v * out_stride[k][static_cast<size_t>(d)];
        }
        Acc acc = 0;
        std::fill(c.begin(), c.end(), 0);
        off = base;
        for (int64_t s = 0; s < n_sum; ++s) {
          Acc prod = 1;
          for (size_t k = 0; k < n_ops; ++k) prod = WrapMul(prod, static_cast<Acc>(ops[k]->data<T>()[off[k]]));
          acc = WrapAdd(acc, prod);
          for (size_t d = sum_shape.size(); d-- > 0;) {  // odometer step, strides updated incrementally
            for (size_t k = 0; k < n_ops; ++k) off[k] += sum_stride[k][d];
            if (++c[d] < sum_shape[d]) break;
            for (size_t k = 0; k < n_ops; ++k) off[k] -= sum_stride[k][d] * sum_shape[d];
            c[d] = 0;
          }
        }
        out[i] = static_cast<T>(acc);
      }
    });
  });
  if (!known) return Unimplemented("Einsum on ", DataTypeName(ops[0]->dtype()));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeEinsum(const KernelBuildInfo& info) {
  const std::string eq = info.node.GetString("equation", "");
  if (eq.empty()) return InvalidArgument("Einsum needs an equation");
  return MakeKernel([eq](KernelContext& ctx) { return RunEinsum(eq, ctx); });
}

TUTTI_REGISTER_CPU_KERNEL("Einsum", "", MakeEinsum, [](const Graph& g, const Node& n) {
  return RequireInputType(g, n, 0, TypeList<float, double, int32_t, int64_t>{});
});

}  // namespace
}  // namespace tutti::cpu
