// Old-opset spellings of an operator load to the same normal form as the opset-13+ spelling.
#include "model/opset_normalize.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <sstream>

#include "model/onnx_loader.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace tutti {
namespace {

using NodeSetup = std::function<void(onnx::NodeProto&, onnx::GraphProto&)>;

void AddFloatInput(onnx::GraphProto& g, const std::string& name, std::vector<int64_t> dims) {
  auto* vi = g.add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void AddInts(onnx::GraphProto& g, const std::string& name, std::vector<int64_t> v) {
  auto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

void AddFloats(onnx::GraphProto& g, const std::string& name, std::vector<float> v, bool scalar) {
  auto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  if (!scalar) t->add_dims(static_cast<int64_t>(v.size()));
  for (float x : v) t->add_float_data(x);
}

onnx::AttributeProto* Attr(onnx::NodeProto& n, const std::string& name) {
  auto* a = n.add_attribute();
  a->set_name(name);
  return a;
}
void IntsAttr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
  auto* a = Attr(n, name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void FloatAttr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = Attr(n, name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void FloatsAttr(onnx::NodeProto& n, const std::string& name, std::vector<float> v) {
  auto* a = Attr(n, name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}
void StringAttr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = Attr(n, name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

// A one-node model over x (shape `dims`) with `outputs` outputs.
Result<Graph> Load(const std::string& op, int64_t opset, std::vector<int64_t> dims, int outputs, const NodeSetup& setup) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  auto* o = m.add_opset_import();
  o->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("one_node");
  AddFloatInput(*g, "x", dims);
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n");
  n->add_input("x");
  for (int i = 0; i < outputs; ++i) {
    n->add_output("y" + std::to_string(i));
    g->add_output()->set_name("y" + std::to_string(i));
  }
  setup(*n, *g);
  return LoadOnnxModelFromBytes(m.SerializeAsString(), "");
}

// Op types, attributes and inputs of every node, constants by value: what "same form" means.
std::string NormalForm(const Graph& g) {
  std::ostringstream os;
  auto order = g.TopologicalOrder();
  if (!order.ok()) return order.status().ToString();
  for (NodeId id : *order) {
    const Node& n = g.node(id);
    os << n.op_type << "(";
    for (ValueId v : n.inputs) {
      if (v == kNoValue) { os << "_,"; continue; }
      const Value& val = g.value(v);
      if (val.is_constant()) {
        os << DataTypeName(val.constant.dtype()) << ShapeToString(val.constant.shape()) << "{";
        for (int64_t i = 0; i < val.constant.num_elements(); ++i) os << val.constant.ElementAsDouble(i) << " ";
        os << "},";
      } else {
        os << val.name << ",";
      }
    }
    os << ")[";
    for (const auto& [k, a] : n.attrs) {
      os << k << "=";
      if (auto* i = std::get_if<int64_t>(&a)) os << *i;
      else if (auto* s = std::get_if<std::string>(&a)) os << *s;
      else if (auto* f = std::get_if<float>(&a)) os << *f;
      else if (auto* v = std::get_if<std::vector<int64_t>>(&a)) for (int64_t x : *v) os << x << " ";
      os << ";";
    }
    os << "] ";
  }
  return os.str();
}

void ExpectSameForm(const Result<Graph>& old_form, const Result<Graph>& new_form) {
  ASSERT_TRUE(old_form.ok()) << old_form.status().ToString();
  ASSERT_TRUE(new_form.ok()) << new_form.status().ToString();
  EXPECT_EQ(NormalForm(*old_form), NormalForm(*new_form));
  // Both forms infer the same output shapes.
  for (size_t o = 0; o < new_form->outputs().size(); ++o) {
    const auto& a = old_form->value(old_form->outputs()[o]).info.shape;
    const auto& b = new_form->value(new_form->outputs()[o]).info.shape;
    ASSERT_TRUE(a && b);
    EXPECT_EQ(SymbolicShapeToString(*a), SymbolicShapeToString(*b));
  }
}

TEST(OpsetNormalizeTest, SqueezeUnsqueezeAxes) {
  ExpectSameForm(Load("Squeeze", 11, {1, 3, 1}, 1, [](auto& n, auto&) { IntsAttr(n, "axes", {0, 2}); }),
                 Load("Squeeze", 13, {1, 3, 1}, 1, [](auto& n, auto& g) { n.add_input("axes"); AddInts(g, "axes", {0, 2}); }));
  ExpectSameForm(Load("Unsqueeze", 11, {3}, 1, [](auto& n, auto&) { IntsAttr(n, "axes", {0}); }),
                 Load("Unsqueeze", 13, {3}, 1, [](auto& n, auto& g) { n.add_input("axes"); AddInts(g, "axes", {0}); }));
}

TEST(OpsetNormalizeTest, ReduceAxes) {
  ExpectSameForm(Load("ReduceSum", 11, {2, 3, 4}, 1, [](auto& n, auto&) { IntsAttr(n, "axes", {1}); }),
                 Load("ReduceSum", 13, {2, 3, 4}, 1, [](auto& n, auto& g) { n.add_input("axes"); AddInts(g, "axes", {1}); }));
  ExpectSameForm(Load("ReduceMean", 13, {2, 3, 4}, 1, [](auto& n, auto&) { IntsAttr(n, "axes", {-1}); }),
                 Load("ReduceMean", 18, {2, 3, 4}, 1, [](auto& n, auto& g) { n.add_input("axes"); AddInts(g, "axes", {-1}); }));
}

TEST(OpsetNormalizeTest, SplitSizes) {
  ExpectSameForm(Load("Split", 11, {6, 2}, 2, [](auto& n, auto&) { IntsAttr(n, "split", {2, 4}); }),
                 Load("Split", 13, {6, 2}, 2, [](auto& n, auto& g) { n.add_input("split"); AddInts(g, "split", {2, 4}); }));
}

TEST(OpsetNormalizeTest, ClipBounds) {
  ExpectSameForm(Load("Clip", 6, {4}, 1, [](auto& n, auto&) { FloatAttr(n, "min", 0.f); FloatAttr(n, "max", 6.f); }),
                 Load("Clip", 13, {4}, 1, [](auto& n, auto& g) {
                   n.add_input("lo"); n.add_input("hi");
                   AddFloats(g, "lo", {0.f}, true); AddFloats(g, "hi", {6.f}, true);
                 }));
}

TEST(OpsetNormalizeTest, PadAttributes) {
  ExpectSameForm(Load("Pad", 10, {2, 3}, 1, [](auto& n, auto&) { IntsAttr(n, "pads", {0, 1, 0, 2}); StringAttr(n, "mode", "edge"); }),
                 Load("Pad", 13, {2, 3}, 1, [](auto& n, auto& g) {
                   n.add_input("pads"); AddInts(g, "pads", {0, 1, 0, 2}); StringAttr(n, "mode", "edge");
                 }));
}

TEST(OpsetNormalizeTest, UpsampleBecomesResize) {
  auto up = Load("Upsample", 9, {1, 1, 2, 2}, 1, [](auto& n, auto& g) {
    n.add_input("scales"); AddFloats(g, "scales", {1, 1, 2, 2}, false);
  });
  auto up7 = Load("Upsample", 7, {1, 1, 2, 2}, 1, [](auto& n, auto&) { FloatsAttr(n, "scales", {1, 1, 2, 2}); });
  auto resize10 = Load("Resize", 10, {1, 1, 2, 2}, 1, [](auto& n, auto& g) {
    n.add_input("scales"); AddFloats(g, "scales", {1, 1, 2, 2}, false);
  });
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  ASSERT_TRUE(up7.ok()) << up7.status().ToString();
  ASSERT_TRUE(resize10.ok()) << resize10.status().ToString();
  EXPECT_EQ(NormalForm(*up), NormalForm(*resize10));
  EXPECT_EQ(NormalForm(*up7), NormalForm(*resize10));
  EXPECT_EQ(up->node(0).op_type, "Resize");
  EXPECT_EQ(up->node(0).GetString("coordinate_transformation_mode", ""), "asymmetric");
  EXPECT_EQ(SymbolicShapeToString(*up->value(up->outputs()[0]).info.shape), "[1,1,4,4]");
}

TEST(OpsetNormalizeTest, DropoutBecomesIdentity) {
  auto d = Load("Dropout", 10, {2, 2}, 1, [](auto& n, auto&) { FloatAttr(n, "ratio", 0.3f); });
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(NormalForm(*d), "Identity(x,)[] ");
}

TEST(OpsetNormalizeTest, BatchNormLegacyAttributesDropped) {
  auto bn = Load("BatchNormalization", 7, {1, 2, 2, 2}, 1, [](auto& n, auto& g) {
    for (const char* p : {"s", "b", "m", "v"}) { n.add_input(p); AddFloats(g, p, {1, 1}, false); }
    auto* a = Attr(n, "spatial");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
  });
  ASSERT_TRUE(bn.ok()) << bn.status().ToString();
  EXPECT_FALSE(bn->node(0).HasAttr("spatial"));
}

// BatchNormalization-7 with spatial=0 (one statistic per activation) becomes the elementwise
// formula; with statistics shaped [C,1,1] it must compute what the per-channel kernel computes
// with the same numbers shaped [C].
TEST(OpsetNormalizeTest, PerActivationBatchNormIsTheElementwiseFormula) {
  auto setup = [](bool spatial) {
    return [spatial](onnx::NodeProto& n, onnx::GraphProto& g) {
      const std::vector<std::vector<float>> params = {{0.5f, 2.f}, {0.1f, -0.3f}, {1.f, -1.f}, {0.25f, 4.f}};
      const char* names[] = {"s", "b", "m", "v"};
      for (size_t i = 0; i < 4; ++i) {
        n.add_input(names[i]);
        AddFloats(g, names[i], params[i], false);
        if (!spatial) {
          auto* t = g.mutable_initializer(g.initializer_size() - 1);
          t->add_dims(1);
          t->add_dims(1);
        }
      }
      auto* a = Attr(n, "spatial");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(spatial ? 1 : 0);
      FloatAttr(n, "epsilon", 0.01f);
    };
  };
  auto per_activation = Load("BatchNormalization", 7, {2, 2, 3, 3}, 1, setup(false));
  ASSERT_TRUE(per_activation.ok()) << per_activation.status().ToString();
  std::map<std::string, int> ops;
  for (size_t i = 0; i < per_activation->node_count(); ++i)
    if (!per_activation->node(static_cast<NodeId>(i)).removed) ++ops[per_activation->node(static_cast<NodeId>(i)).op_type];
  EXPECT_EQ(ops, (std::map<std::string, int>{{"Add", 2}, {"Div", 1}, {"Mul", 1}, {"Sqrt", 1}, {"Sub", 1}}));
  EXPECT_EQ(SymbolicShapeToString(*per_activation->value(per_activation->outputs()[0]).info.shape), "[2,2,3,3]");

  auto spatial = Load("BatchNormalization", 7, {2, 2, 3, 3}, 1, setup(true));
  ASSERT_TRUE(spatial.ok()) << spatial.status().ToString();
  const Tensor x = testing::RandomTensor({2, 2, 3, 3}, 9);
  SessionOptions options;
  options.optimize = false;
  auto a = Session::FromGraph(*per_activation, options);
  auto b = Session::FromGraph(*spatial, options);
  ASSERT_TRUE(a.ok() && b.ok());
  auto ya = (*a)->Run({&x, 1});
  auto yb = (*b)->Run({&x, 1});
  ASSERT_TRUE(ya.ok() && yb.ok());
  EXPECT_LE(testing::RelativePeakError((*ya)[0], (*yb)[0]), 1e-6);
}

// Opset-11 Softmax normalises the flattened 2-D view at `axis`; on the last axis that is opset 13's
// Softmax(axis=-1), elsewhere an explicit Flatten -> Softmax -> Reshape.
TEST(OpsetNormalizeTest, SoftmaxAxisMeaning) {
  auto last = Load("Softmax", 11, {2, 3}, 1, [](auto& n, auto&) {});
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(NormalForm(*last), "Softmax(x,)[axis=-1;] ");
  auto inner = Load("Softmax", 11, {2, 3, 4}, 1, [](auto& n, auto&) {});
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(inner->live_node_count(), 4u);  // Flatten, Shape, Softmax, Reshape
  EXPECT_EQ(SymbolicShapeToString(*inner->value(inner->outputs()[0]).info.shape), "[2,3,4]");
}

}  // namespace
}  // namespace tutti
