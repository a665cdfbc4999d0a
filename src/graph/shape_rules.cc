// Registry, shared helpers, and the element-wise operator rules.
#include "graph/shape_rules.h"

#include <map>

namespace tutti::shape_rules {

namespace {
std::map<std::string, Rule>& Registry() {
  static std::map<std::string, Rule> r;
  return r;
}
}  // namespace

RuleRegistrar::RuleRegistrar(Rule rule, std::initializer_list<const char*> ops) {
  for (const char* op : ops) Registry()[op] = rule;
}

const Rule* FindRule(const std::string& op_type) {
  auto it = Registry().find(op_type);
  return it == Registry().end() ? nullptr : &it->second;
}

std::optional<std::vector<int64_t>> Context::ints(size_t i) const {
  const KnownValues* v = values(i);
  if (!v) return std::nullopt;
  std::vector<int64_t> out;
  out.reserve(v->size());
  for (const SymInt& d : *v) {
    if (!d.known()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

Result<SymbolicShape> Broadcast(const SymbolicShape& a, const SymbolicShape& b) {
  const size_t r = std::max(a.size(), b.size());
  SymbolicShape out(r);
  for (size_t i = 0; i < r; ++i) {
    const Dim* da = i + a.size() >= r ? &a[i + a.size() - r] : nullptr;
    const Dim* db = i + b.size() >= r ? &b[i + b.size() - r] : nullptr;
    if (!da) { out[i] = *db; continue; }
    if (!db) { out[i] = *da; continue; }
    if (da->known() && da->value == 1) out[i] = *db;
    else if (db->known() && db->value == 1) out[i] = *da;
    else if (da->known() && db->known()) {
      if (da->value != db->value)
        return InvalidArgument("cannot broadcast ", SymbolicShapeToString(a), " with ", SymbolicShapeToString(b));
      out[i] = *da;
    } else if (da->known()) out[i] = *da;  // the other one must be equal (or 1, which broadcasts to it)
    else if (db->known()) out[i] = *db;
    else if (*da == *db) out[i] = *da;
    else out[i] = Dim{};
  }
  return out;
}

Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return InvalidArgument("axis ", axis, " is out of range for rank ", rank);
  return a;
}

Dim Mul(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim::Known(a.value * b.value);
  if (a.known() && a.value == 1) return b;
  if (b.known() && b.value == 1) return a;
  if ((a.known() && a.value == 0) || (b.known() && b.value == 0)) return Dim::Known(0);
  return Dim{};
}

namespace {

// Output 0 like input 0 (activations, normalisations that keep the shape).
Status SameAsInput0(Context& c) {
  if (!c.has(0)) return Status::Ok();
  c.Set(0, c.dtype(0), c.value(0)->info.shape);
  if (c.values(0) && (c.node.op_type == "Identity")) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(SameAsInput0, "Identity", "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf",
                 "Gelu", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin",
                 "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus",
                 "Softsign", "Elu", "Selu", "Celu", "ThresholdedRelu", "Mish", "Clip", "Softmax", "LogSoftmax",
                 "Hardmax", "LpNormalization", "InstanceNormalization", "LRN", "PRelu", "Not", "Shrink", "CumSum",
                 "MeanVarianceNormalization", "Trilu", "ReverseSequence", "ScatterND", "ScatterElements", "Scatter",
                 "BitwiseNot", "Dropout");

Status BoolLikeInput0(Context& c) {
  if (c.has(0)) c.Set(0, DataType::kBool, c.value(0)->info.shape);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(BoolLikeInput0, "IsNaN", "IsInf");

// Integer arithmetic on known contents (shape computations: batch * 3, dim / 2 ...).
std::optional<SymInt> Arith(const std::string& op, const SymInt& a, const SymInt& b) {
  if (!a.known() || !b.known()) {
    const bool b_is = b.known(), a_is = a.known();
    if ((op == "Add" || op == "Sub") && b_is && b.value == 0) return a;
    if (op == "Add" && a_is && a.value == 0) return b;
    if ((op == "Mul" || op == "Div") && b_is && b.value == 1) return a;
    if (op == "Mul" && a_is && a.value == 1) return b;
    if (op == "Mul" && ((a_is && a.value == 0) || (b_is && b.value == 0))) return SymInt::Of(0);
    return SymInt{};
  }
  if (op == "Mul") return SymInt::Of(a.value * b.value);
  if (op == "Add") return SymInt::Of(a.value + b.value);
  if (op == "Sub") return SymInt::Of(a.value - b.value);
  if (op == "Div") {
    if (b.value == 0) return std::nullopt;
    // ONNX integer Div truncates toward zero, as C++ does.
    return SymInt::Of(a.value / b.value);
  }
  if (op == "Max") return SymInt::Of(std::max(a.value, b.value));
  if (op == "Min") return SymInt::Of(std::min(a.value, b.value));
  return std::nullopt;
}

bool IsIntType(DataType t) { return t == DataType::kInt64 || t == DataType::kInt32; }

Status Broadcasting(Context& c) {
  const std::string& op = c.node.op_type;
  const bool compare = op == "Equal" || op == "Greater" || op == "Less" || op == "GreaterOrEqual" ||
                       op == "LessOrEqual" || op == "And" || op == "Or" || op == "Xor";
  DataType dt = compare ? DataType::kBool : DataType::kUndefined;
  std::optional<SymbolicShape> shape = SymbolicShape{};
  for (size_t i = 0; i < c.input_count(); ++i) {
    if (!c.has(i)) continue;
    if (!compare && dt == DataType::kUndefined) dt = c.dtype(i);
    if (!c.shape(i)) { shape.reset(); continue; }
    if (shape) {
      auto b = Broadcast(*shape, *c.shape(i));
      if (!b.ok()) return b.status();
      shape = std::move(b).value();
    }
  }
  // Pow's result has the base's type even when the exponent differs.
  if (op == "Pow" || op == "BitShift") dt = c.dtype(0);
  c.Set(0, dt, shape);
  // Element-wise integer arithmetic on tracked contents (same length, or one side a single value).
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") && c.input_count() == 2 &&
      IsIntType(dt) && c.values(0) && c.values(1) && shape) {
    const KnownValues& a = *c.values(0);
    const KnownValues& b = *c.values(1);
    if (a.size() == b.size() || a.size() == 1 || b.size() == 1) {
      const size_t n = std::max(a.size(), b.size());
      KnownValues out;
      for (size_t i = 0; i < n; ++i) {
        auto r = Arith(op, a[a.size() == 1 ? 0 : i], b[b.size() == 1 ? 0 : i]);
        if (!r) return Status::Ok();
        out.push_back(*r);
      }
      c.SetValues(0, std::move(out));
    }
  }
  return Status::Ok();
}
TUTTI_SHAPE_RULE(Broadcasting, "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "And", "Or",
                 "Xor", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "BitShift", "BitwiseAnd",
                 "BitwiseOr", "BitwiseXor");

Status WhereRule(Context& c) {
  std::optional<SymbolicShape> shape = SymbolicShape{};
  for (size_t i = 0; i < 3; ++i) {
    if (!c.shape(i)) { shape.reset(); break; }
    auto b = Broadcast(*shape, *c.shape(i));
    if (!b.ok()) return b.status();
    shape = std::move(b).value();
  }
  c.Set(0, c.dtype(1) != DataType::kUndefined ? c.dtype(1) : c.dtype(2), shape);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(WhereRule, "Where");

Status CastRule(Context& c) {
  DataType to = DataType::kUndefined;
  if (c.node.op_type == "CastLike") {
    to = c.dtype(1);
  } else {
    int64_t t = c.node.GetInt("to", 0);
    if (!IsValidDataType(static_cast<int32_t>(t))) return InvalidArgument("'to' = ", t, " is not a supported type");
    to = static_cast<DataType>(t);
  }
  if (!c.has(0)) return Status::Ok();
  c.Set(0, to, c.value(0)->info.shape);
  if (c.values(0) && IsIntType(to)) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(CastRule, "Cast", "CastLike");

}  // namespace
}  // namespace tutti::shape_rules
