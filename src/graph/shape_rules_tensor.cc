// Rules for the data-movement and shape-computation operators: Shape, Reshape, Gather, Concat,
// Slice, Squeeze/Unsqueeze, Transpose, Split, Expand, Tile, Range, reductions ... These are the
// ones exporters chain to compute shapes, so they also carry tracked contents (KnownValues).
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <numeric>

#include "graph/shape_rules.h"

namespace tutti::shape_rules {
namespace {

int64_t Rank(const SymbolicShape& s) { return static_cast<int64_t>(s.size()); }

// The product of dims, or Dim{} when any is unknown (a single symbolic factor is kept).
Dim Product(SymbolicShape::const_iterator b, SymbolicShape::const_iterator e) {
  Dim p = Dim::Known(1);
  for (auto it = b; it != e; ++it) p = Mul(p, *it);
  return p;
}

Status ShapeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  if (!x) { c.Set(0, DataType::kInt64, std::nullopt); return Status::Ok(); }
  const int64_t r = Rank(*x);
  int64_t start = c.node.GetInt("start", 0), end = c.node.GetInt("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  KnownValues v;
  for (auto it = x->begin() + start; it != x->begin() + end; ++it) v.push_back(SymInt::FromDim(*it));
  c.Set(0, DataType::kInt64, SymbolicShape{Dim::Known(end - start)});
  c.SetValues(0, std::move(v));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ShapeRule, "Shape");

Status SizeRule(Context& c) {
  c.Set(0, DataType::kInt64, SymbolicShape{});
  if (const SymbolicShape* x = c.shape(0)) c.SetValues(0, {SymInt::FromDim(Product(x->begin(), x->end()))});
  return Status::Ok();
}
TUTTI_SHAPE_RULE(SizeRule, "Size");

// Reshape's -1: the input's element count divided by the other target dims, with matching symbols
// cancelled so [batch,512,1,1] -> [0,-1] gives [batch,512] and [batch,3,224,224] -> [-1,150528]
// gives [batch,150528].
Dim InferMinusOne(const SymbolicShape& in, const SymbolicShape& target, size_t minus_index) {
  int64_t in_known = 1, t_known = 1;
  std::vector<std::string> in_syms, t_syms;
  for (const Dim& d : in) {
    if (d.known()) in_known *= d.value;
    else if (!d.symbol.empty()) in_syms.push_back(d.symbol);
    else return Dim{};
  }
  for (size_t i = 0; i < target.size(); ++i) {
    if (i == minus_index) continue;
    const Dim& d = target[i];
    if (d.known()) t_known *= d.value;
    else if (!d.symbol.empty()) t_syms.push_back(d.symbol);
    else return Dim{};
  }
  for (auto it = t_syms.begin(); it != t_syms.end();) {
    auto f = std::find(in_syms.begin(), in_syms.end(), *it);
    if (f == in_syms.end()) return Dim{};
    in_syms.erase(f);
    it = t_syms.erase(it);
  }
  if (t_known == 0 || in_known % t_known != 0) return Dim{};
  const int64_t q = in_known / t_known;
  if (in_syms.empty()) return Dim::Known(q);
  if (in_syms.size() == 1 && q == 1) return Dim::Symbol(in_syms[0]);
  return Dim{};
}

Status ReshapeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  const KnownValues* target = c.values(1);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!target) {
    if (c.shape(1) && c.shape(1)->size() == 1 && (*c.shape(1))[0].known())
      c.Set(0, c.dtype(0), SymbolicShape(static_cast<size_t>((*c.shape(1))[0].value), Dim{}));
    return Status::Ok();
  }
  const bool allowzero = c.node.GetInt("allowzero", 0) != 0;
  SymbolicShape out;
  size_t minus = target->size();
  for (size_t i = 0; i < target->size(); ++i) {
    const SymInt& d = (*target)[i];
    if (d.known() && d.value == 0 && !allowzero) {
      if (!x) { out.push_back(Dim{}); continue; }
      if (i >= x->size()) return InvalidArgument("target dim ", i, " is 0 (copy) but the input has rank ", x->size());
      out.push_back((*x)[i]);
    } else if (d.known() && d.value == -1) {
      if (minus != target->size()) return InvalidArgument("the target shape has more than one -1");
      minus = i;
      out.push_back(Dim{});
    } else if (d.known() && d.value < -1) {
      return InvalidArgument("target dim ", d.value, " is negative");
    } else {
      out.push_back(d.ToDim());
    }
  }
  if (minus != target->size() && x) out[minus] = InferMinusOne(*x, out, minus);
  if (x && minus == target->size()) {
    auto in_n = ToConcrete(*x), out_n = ToConcrete(out);
    if (in_n && out_n && NumElements(*in_n) != NumElements(*out_n))
      return InvalidArgument("cannot reshape ", SymbolicShapeToString(*x), " (", NumElements(*in_n), " elements) to ",
                             SymbolicShapeToString(out));
  }
  c.Set(0, c.dtype(0), out);
  if (c.values(0)) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ReshapeRule, "Reshape");

Status FlattenRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  if (!x) { c.Set(0, c.dtype(0), std::nullopt); return Status::Ok(); }
  int64_t axis = c.node.GetInt("axis", 1);
  if (axis < 0) axis += Rank(*x);
  if (axis < 0 || axis > Rank(*x)) return InvalidArgument("axis ", c.node.GetInt("axis", 1), " is out of range for rank ", x->size());
  c.Set(0, c.dtype(0), SymbolicShape{Product(x->begin(), x->begin() + axis), Product(x->begin() + axis, x->end())});
  if (c.values(0)) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(FlattenRule, "Flatten");

Status TransposeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  if (!x) { c.Set(0, c.dtype(0), std::nullopt); return Status::Ok(); }
  std::vector<int64_t> perm = c.node.GetInts("perm");
  if (perm.empty())
    for (int64_t i = Rank(*x) - 1; i >= 0; --i) perm.push_back(i);
  if (static_cast<int64_t>(perm.size()) != Rank(*x))
    return InvalidArgument("perm has ", perm.size(), " entries for rank ", x->size());
  SymbolicShape out;
  std::vector<char> seen(x->size(), 0);
  for (int64_t p : perm) {
    TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(p, Rank(*x)));
    if (seen[static_cast<size_t>(a)]++) return InvalidArgument("perm repeats axis ", p);
    out.push_back((*x)[static_cast<size_t>(a)]);
  }
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(TransposeRule, "Transpose");

Status UnsqueezeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  auto axes = c.ints(1);
  if (!x || !axes) return Status::Ok();
  const int64_t r = Rank(*x) + static_cast<int64_t>(axes->size());
  std::vector<char> is_new(static_cast<size_t>(r), 0);
  for (int64_t a : *axes) {
    TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(a, r));
    if (is_new[static_cast<size_t>(n)]++) return InvalidArgument("axes repeat ", a);
  }
  SymbolicShape out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(is_new[static_cast<size_t>(i)] ? Dim::Known(1) : (*x)[j++]);
  c.Set(0, c.dtype(0), out);
  if (c.values(0)) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(UnsqueezeRule, "Unsqueeze");

Status SqueezeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x) return Status::Ok();
  std::vector<char> drop(x->size(), 0);
  if (c.has(1)) {
    auto axes = c.ints(1);
    if (!axes) return Status::Ok();
    for (int64_t a : *axes) {
      TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(a, Rank(*x)));
      const Dim& d = (*x)[static_cast<size_t>(n)];
      if (d.known() && d.value != 1) return InvalidArgument("cannot squeeze axis ", a, " of size ", d.value);
      drop[static_cast<size_t>(n)] = 1;
    }
  } else {
    for (size_t i = 0; i < x->size(); ++i) {
      if (!(*x)[i].known()) return Status::Ok();  // which dims are 1 is not known yet
      drop[i] = (*x)[i].value == 1;
    }
  }
  SymbolicShape out;
  for (size_t i = 0; i < x->size(); ++i)
    if (!drop[i]) out.push_back((*x)[i]);
  c.Set(0, c.dtype(0), out);
  if (c.values(0)) c.SetValues(0, *c.values(0));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(SqueezeRule, "Squeeze");

Dim AddDims(const Dim& a, const Dim& b) {
  if (a.known() && b.known()) return Dim::Known(a.value + b.value);
  if (a.known() && a.value == 0) return b;
  if (b.known() && b.value == 0) return a;
  return Dim{};
}

Status ConcatRule(Context& c) {
  DataType dt = DataType::kUndefined;
  for (size_t i = 0; i < c.input_count() && dt == DataType::kUndefined; ++i) dt = c.dtype(i);
  c.Set(0, dt, std::nullopt);
  std::optional<SymbolicShape> out;
  const int64_t axis_attr = c.node.GetInt("axis", 0);
  int64_t axis = 0;
  bool all_values = true;
  KnownValues values;
  for (size_t i = 0; i < c.input_count(); ++i) {
    if (!c.has(i)) continue;
    const SymbolicShape* s = c.shape(i);
    if (c.values(i)) values.insert(values.end(), c.values(i)->begin(), c.values(i)->end());
    else all_values = false;
    if (!s) return Status::Ok();
    if (!out) {
      TUTTI_ASSIGN_OR_RETURN(axis, NormalizeAxis(axis_attr, Rank(*s)));
      out = *s;
      continue;
    }
    if (s->size() != out->size())
      return InvalidArgument("inputs have ranks ", out->size(), " and ", s->size());
    for (size_t d = 0; d < s->size(); ++d) {
      Dim& o = (*out)[d];
      if (static_cast<int64_t>(d) == axis) { o = AddDims(o, (*s)[d]); continue; }
      if (o.known() && (*s)[d].known() && o.value != (*s)[d].value)
        return InvalidArgument("input ", i, " has shape ", SymbolicShapeToString(*s), ", expected ",
                               SymbolicShapeToString(*out), " outside axis ", axis);
      if (!o.known() && (*s)[d].known()) o = (*s)[d];
    }
  }
  c.Set(0, dt, out);
  if (all_values && out && out->size() == 1) c.SetValues(0, std::move(values));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ConcatRule, "Concat");

Status GatherRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  const SymbolicShape* idx = c.shape(1);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x || !idx) return Status::Ok();
  if (x->empty()) return InvalidArgument("data must have rank >= 1");
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(c.node.GetInt("axis", 0), Rank(*x)));
  SymbolicShape out(x->begin(), x->begin() + axis);
  out.insert(out.end(), idx->begin(), idx->end());
  out.insert(out.end(), x->begin() + axis + 1, x->end());
  c.Set(0, c.dtype(0), out);
  auto indices = c.ints(1);
  if (c.values(0) && indices && x->size() == 1) {
    const KnownValues& data = *c.values(0);
    const int64_t n = static_cast<int64_t>(data.size());
    KnownValues v;
    for (int64_t i : *indices) {
      const int64_t k = i < 0 ? i + n : i;
      if (k < 0 || k >= n) return InvalidArgument("index ", i, " is out of range for ", n, " elements");
      v.push_back(data[static_cast<size_t>(k)]);
    }
    c.SetValues(0, std::move(v));
  }
  return Status::Ok();
}
TUTTI_SHAPE_RULE(GatherRule, "Gather");

Status GatherElementsRule(Context& c) {
  c.Set(0, c.dtype(0), c.has(1) ? c.value(1)->info.shape : std::nullopt);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(GatherElementsRule, "GatherElements");

// Slice bounds for one axis of size `dim` (ONNX clamping rules).
int64_t SliceLength(int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto clamp = [&](int64_t v) {
    if (v < 0) v += dim;
    return step > 0 ? std::clamp<int64_t>(v, 0, dim) : std::clamp<int64_t>(v, -1, dim - 1);
  };
  const int64_t s = clamp(start), e = clamp(end);
  if (step > 0) return e > s ? (e - s + step - 1) / step : 0;
  return s > e ? (s - e + (-step) - 1) / (-step) : 0;
}

Status SliceRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x) return Status::Ok();
  auto starts = c.ints(1), ends = c.ints(2);
  if (!starts || !ends) {
    c.Set(0, c.dtype(0), SymbolicShape(x->size(), Dim{}));
    return Status::Ok();
  }
  if (starts->size() != ends->size()) return InvalidArgument("starts and ends differ in length");
  std::vector<int64_t> axes, steps(starts->size(), 1);
  if (c.has(3)) {
    auto a = c.ints(3);
    if (!a) { c.Set(0, c.dtype(0), SymbolicShape(x->size(), Dim{})); return Status::Ok(); }
    axes = *a;
  } else {
    for (size_t i = 0; i < starts->size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (c.has(4)) {
    auto s = c.ints(4);
    if (!s) { c.Set(0, c.dtype(0), SymbolicShape(x->size(), Dim{})); return Status::Ok(); }
    steps = *s;
  }
  if (axes.size() != starts->size() || steps.size() != starts->size())
    return InvalidArgument("starts, ends, axes and steps differ in length");
  SymbolicShape out = *x;
  std::vector<std::array<int64_t, 3>> per_axis(x->size(), {0, INT64_MAX, 1});
  bool touched0 = false;
  for (size_t i = 0; i < axes.size(); ++i) {
    TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(axes[i], Rank(*x)));
    if (steps[i] == 0) return InvalidArgument("step is 0");
    Dim& d = out[static_cast<size_t>(a)];
    per_axis[static_cast<size_t>(a)] = {(*starts)[i], (*ends)[i], steps[i]};
    if (a == 0) touched0 = true;
    if (d.known()) d = Dim::Known(SliceLength(d.value, (*starts)[i], (*ends)[i], steps[i]));
    else if (!((*starts)[i] == 0 && steps[i] == 1 && (*ends)[i] >= INT32_MAX)) d = Dim{};
  }
  c.Set(0, c.dtype(0), out);
  if (c.values(0) && x->size() == 1 && (*x)[0].known()) {
    const KnownValues& data = *c.values(0);
    const int64_t n = static_cast<int64_t>(data.size());
    auto [st, en, step] = touched0 ? per_axis[0] : std::array<int64_t, 3>{0, n, 1};
    int64_t s = st < 0 ? st + n : st, e = en < 0 ? en + n : en;
    KnownValues v;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      for (int64_t i = s; i < e; i += step) v.push_back(data[static_cast<size_t>(i)]);
    } else {
      s = std::clamp<int64_t>(s, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      for (int64_t i = s; i > e; i += step) v.push_back(data[static_cast<size_t>(i)]);
    }
    c.SetValues(0, std::move(v));
  }
  return Status::Ok();
}
TUTTI_SHAPE_RULE(SliceRule, "Slice");

Status SplitRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  const size_t n = c.node.outputs.size();
  for (size_t o = 0; o < n; ++o) c.Set(o, c.dtype(0), std::nullopt);
  if (!x || n == 0) return Status::Ok();
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(c.node.GetInt("axis", 0), Rank(*x)));
  const Dim& d = (*x)[static_cast<size_t>(axis)];
  std::vector<Dim> sizes;
  if (c.has(1)) {
    auto split = c.ints(1);
    if (!split) return Status::Ok();
    if (split->size() != n) return InvalidArgument("split has ", split->size(), " sizes for ", n, " outputs");
    int64_t total = 0;
    for (int64_t s : *split) {
      if (s < 0) return InvalidArgument("split size ", s, " is negative");
      total += s;
      sizes.push_back(Dim::Known(s));
    }
    if (d.known() && total != d.value) return InvalidArgument("split sizes sum to ", total, ", the axis has ", d.value);
  } else {
    if (!d.known()) return Status::Ok();
    const int64_t chunk = (d.value + static_cast<int64_t>(n) - 1) / static_cast<int64_t>(n);
    for (size_t o = 0; o < n; ++o)
      sizes.push_back(Dim::Known(std::clamp<int64_t>(d.value - chunk * static_cast<int64_t>(o), 0, chunk)));
  }
  for (size_t o = 0; o < n; ++o) {
    SymbolicShape s = *x;
    s[static_cast<size_t>(axis)] = sizes[o];
    c.Set(o, c.dtype(0), s);
  }
  return Status::Ok();
}
TUTTI_SHAPE_RULE(SplitRule, "Split");

Status ExpandRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  const KnownValues* target = c.values(1);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x || !target) return Status::Ok();
  SymbolicShape shape;
  for (const SymInt& d : *target) shape.push_back(d.ToDim());
  TUTTI_ASSIGN_OR_RETURN(SymbolicShape out, Broadcast(*x, shape));
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ExpandRule, "Expand");

Status TileRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  auto reps = c.ints(1);
  if (!x) return Status::Ok();
  if (!reps) { c.Set(0, c.dtype(0), SymbolicShape(x->size(), Dim{})); return Status::Ok(); }
  if (reps->size() != x->size()) return InvalidArgument("repeats has ", reps->size(), " values for rank ", x->size());
  SymbolicShape out;
  for (size_t i = 0; i < x->size(); ++i) out.push_back(Mul((*x)[i], Dim::Known((*reps)[i])));
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(TileRule, "Tile");

Status ConstantOfShapeRule(Context& c) {
  const Tensor* value = c.node.GetTensor("value");
  const DataType dt = value ? value->dtype() : DataType::kFloat32;
  const KnownValues* shape = c.values(0);
  if (!shape) {
    std::optional<SymbolicShape> s;
    if (c.shape(0) && c.shape(0)->size() == 1 && (*c.shape(0))[0].known())
      s = SymbolicShape(static_cast<size_t>((*c.shape(0))[0].value), Dim{});
    c.Set(0, dt, s);
    return Status::Ok();
  }
  SymbolicShape dims;
  for (const SymInt& d : *shape) {
    if (d.known() && d.value < 0) return InvalidArgument("negative dimension ", d.value);
    dims.push_back(d.ToDim());
  }
  c.Set(0, dt, dims);
  auto n = ToConcrete(dims);
  if (n && (dt == DataType::kInt64 || dt == DataType::kInt32) && NumElements(*n) <= kMaxTrackedElements)
    c.SetValues(0, KnownValues(static_cast<size_t>(NumElements(*n)), SymInt::Of(value ? value->ElementAsInt64(0) : 0)));
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ConstantOfShapeRule, "ConstantOfShape");

Status RangeRule(Context& c) {
  const DataType dt = c.dtype(0);
  c.Set(0, dt, SymbolicShape{Dim{}});
  const Tensor *s = c.constant(0), *l = c.constant(1), *d = c.constant(2);
  auto scalar = [&](size_t i, const Tensor* t) -> std::optional<double> {
    if (t && t->num_elements() == 1) return t->ElementAsDouble(0);
    auto v = c.ints(i);
    if (v && v->size() == 1) return static_cast<double>((*v)[0]);
    return std::nullopt;
  };
  auto start = scalar(0, s), limit = scalar(1, l), delta = scalar(2, d);
  if (!start || !limit || !delta) return Status::Ok();
  if (*delta == 0) return InvalidArgument("delta is 0");
  const double count = std::max(0.0, std::ceil((*limit - *start) / *delta));
  if (count > 1e12) return InvalidArgument("range of ", count, " elements is too large");
  const int64_t n = static_cast<int64_t>(count);
  c.Set(0, dt, SymbolicShape{Dim::Known(n)});
  if ((dt == DataType::kInt64 || dt == DataType::kInt32) && n <= kMaxTrackedElements) {
    KnownValues v;
    for (int64_t i = 0; i < n; ++i) v.push_back(SymInt::Of(static_cast<int64_t>(*start + static_cast<double>(i) * *delta)));
    c.SetValues(0, std::move(v));
  }
  return Status::Ok();
}
TUTTI_SHAPE_RULE(RangeRule, "Range");

// Reductions, ArgMax/ArgMin: axes from input 1 (normal form) or the 'axis' attribute (Arg*).
Status ReduceRule(Context& c) {
  const std::string& op = c.node.op_type;
  const bool arg = op == "ArgMax" || op == "ArgMin";
  const DataType dt = arg ? DataType::kInt64 : c.dtype(0);
  const SymbolicShape* x = c.shape(0);
  c.Set(0, dt, std::nullopt);
  if (!x) return Status::Ok();
  const bool keep = c.node.GetInt("keepdims", 1) != 0;
  std::vector<char> reduce(x->size(), 0);
  if (arg) {
    TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(c.node.GetInt("axis", 0), Rank(*x)));
    reduce[static_cast<size_t>(a)] = 1;
  } else if (c.has(1)) {
    auto axes = c.ints(1);
    if (!axes) {
      if (!keep) return Status::Ok();
      c.Set(0, dt, SymbolicShape(x->size(), Dim{}));
      return Status::Ok();
    }
    if (axes->empty() && c.node.GetInt("noop_with_empty_axes", 0) == 0) std::fill(reduce.begin(), reduce.end(), 1);
    for (int64_t a : *axes) {
      TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(a, Rank(*x)));
      reduce[static_cast<size_t>(n)] = 1;
    }
  } else if (c.node.GetInt("noop_with_empty_axes", 0) == 0) {
    std::fill(reduce.begin(), reduce.end(), 1);
  }
  SymbolicShape out;
  for (size_t i = 0; i < x->size(); ++i) {
    if (!reduce[i]) out.push_back((*x)[i]);
    else if (keep) out.push_back(Dim::Known(1));
  }
  c.Set(0, dt, out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ReduceRule, "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                 "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin");

Status TopKRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  c.Set(1, DataType::kInt64, std::nullopt);
  if (!x) return Status::Ok();
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(c.node.GetInt("axis", -1), Rank(*x)));
  SymbolicShape out = *x;
  auto k = c.ints(1);
  out[static_cast<size_t>(axis)] = k && k->size() == 1 ? Dim::Known((*k)[0]) : Dim{};
  c.Set(0, c.dtype(0), out);
  c.Set(1, DataType::kInt64, out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(TopKRule, "TopK");

Status NonZeroRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, DataType::kInt64, x ? std::optional<SymbolicShape>(SymbolicShape{Dim::Known(Rank(*x)), Dim{}}) : std::nullopt);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(NonZeroRule, "NonZero");

Status EyeLikeRule(Context& c) {
  int64_t dt = c.node.GetInt("dtype", static_cast<int64_t>(c.dtype(0)));
  c.Set(0, IsValidDataType(static_cast<int32_t>(dt)) ? static_cast<DataType>(dt) : c.dtype(0),
        c.has(0) ? c.value(0)->info.shape : std::nullopt);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(EyeLikeRule, "EyeLike");

}  // namespace
}  // namespace tutti::shape_rules
