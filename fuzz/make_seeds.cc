// Writes the seed corpora the fuzz targets start from: small valid files of each kind, so libFuzzer
// mutates real structure instead of discovering the format from nothing.
//   usage: fuzz_seeds CORPUS_DIR [MODELS_DIR]
// CORPUS_DIR/npy_fuzz/: .npy files of every dtype NumPy and tutti share, ranks 0..4, both header
// versions; CORPUS_DIR/loader_fuzz/: tiny ONNX models (symbolic batch, initializers, attributes,
// a Constant node, several opsets) plus any *.onnx under MODELS_DIR under 1 MiB.
#include <onnx/onnx_pb.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/npy.h"

namespace fs = std::filesystem;
using tutti::DataType;

namespace {

bool WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
  return static_cast<bool>(f);
}

void SetTensorType(onnx::ValueInfoProto* info, const std::string& name, const std::vector<std::string>& dims) {
  info->set_name(name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (const std::string& d : dims) {
    if (d.empty() || !std::isdigit(static_cast<unsigned char>(d[0]))) {
      tt->mutable_shape()->add_dim()->set_dim_param(d);
    } else {
      tt->mutable_shape()->add_dim()->set_dim_value(std::stoll(d));
    }
  }
}

onnx::ModelProto NewModel(int opset) {
  onnx::ModelProto m;
  m.set_ir_version(opset >= 13 ? 7 : 5);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  return m;
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + std::to_string(g->node_size()));
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

onnx::TensorProto* AddFloatInitializer(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t->add_dims(d);
    n *= d;
  }
  for (int64_t i = 0; i < n; ++i) t->add_float_data(0.25f * static_cast<float>(i % 7) - 0.5f);
  return t;
}

onnx::AttributeProto* Attr(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType type) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}
void IntAttr(onnx::NodeProto* n, const std::string& name, int64_t v) { Attr(n, name, onnx::AttributeProto::INT)->set_i(v); }
void FloatAttr(onnx::NodeProto* n, const std::string& name, float v) { Attr(n, name, onnx::AttributeProto::FLOAT)->set_f(v); }
void StringAttr(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  Attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
}
void IntsAttr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = Attr(n, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void FloatsAttr(onnx::NodeProto* n, const std::string& name, const std::vector<float>& v) {
  auto* a = Attr(n, name, onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}

// A 1-D int64 initializer (axes, pads, shapes, repeats); empty `v` gives the empty tensor
// exporters pass for "not given".
void AddInt64Initializer(onnx::GraphProto* g, const std::string& name, const std::vector<int64_t>& v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
}

// x[batch, dims...] -> (nodes the caller adds) -> the named outputs, all float.
onnx::GraphProto* NewGraph(onnx::ModelProto& m, const std::string& name, std::vector<std::string> x_dims,
                           const std::vector<std::string>& outputs) {
  auto* g = m.mutable_graph();
  g->set_name(name);
  x_dims.insert(x_dims.begin(), "batch");
  SetTensorType(g->add_input(), "x", x_dims);
  for (const std::string& o : outputs) SetTensorType(g->add_output(), o, {});
  return g;
}

std::vector<std::pair<std::string, onnx::ModelProto>> Models() {
  std::vector<std::pair<std::string, onnx::ModelProto>> models;
  for (int opset : {7, 13, 17}) {  // x[batch,4] -> Relu -> y
    onnx::ModelProto m = NewModel(opset);
    auto* g = m.mutable_graph();
    g->set_name("relu");
    SetTensorType(g->add_input(), "x", {"batch", "4"});
    SetTensorType(g->add_output(), "y", {"batch", "4"});
    AddNode(g, "Relu", {"x"}, {"y"});
    models.emplace_back("relu_opset" + std::to_string(opset), m);
  }
  {  // Conv (attributes, raw_data initializer) -> Add (broadcast initializer) -> MaxPool -> Flatten -> Gemm
    onnx::ModelProto m = NewModel(13);
    auto* g = m.mutable_graph();
    g->set_name("small_cnn");
    SetTensorType(g->add_input(), "image", {"N", "3", "8", "8"});
    SetTensorType(g->add_output(), "logits", {"N", "5"});
    auto* w = AddFloatInitializer(g, "conv_w", {4, 3, 3, 3});
    std::string raw(w->float_data_size() * sizeof(float), '\0');
    std::memcpy(raw.data(), w->float_data().data(), raw.size());
    w->clear_float_data();
    w->set_raw_data(raw);
    AddFloatInitializer(g, "bias", {1, 4, 1, 1});
    AddFloatInitializer(g, "fc_w", {5, 64});
    AddFloatInitializer(g, "fc_b", {5});
    auto* conv = AddNode(g, "Conv", {"image", "conv_w"}, {"c"});
    auto* k = conv->add_attribute();
    k->set_name("kernel_shape");
    k->set_type(onnx::AttributeProto::INTS);
    k->add_ints(3);
    k->add_ints(3);
    auto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) pads->add_ints(1);
    AddNode(g, "Add", {"c", "bias"}, {"cb"});
    auto* pool = AddNode(g, "MaxPool", {"cb"}, {"p"});
    auto* pk = pool->add_attribute();
    pk->set_name("kernel_shape");
    pk->set_type(onnx::AttributeProto::INTS);
    pk->add_ints(2);
    pk->add_ints(2);
    auto* ps = pool->add_attribute();
    ps->set_name("strides");
    ps->set_type(onnx::AttributeProto::INTS);
    ps->add_ints(2);
    ps->add_ints(2);
    AddNode(g, "Flatten", {"p"}, {"f"});
    auto* gemm = AddNode(g, "Gemm", {"f", "fc_w", "fc_b"}, {"logits"});
    auto* tb = gemm->add_attribute();
    tb->set_name("transB");
    tb->set_type(onnx::AttributeProto::INT);
    tb->set_i(1);
    models.emplace_back("small_cnn", m);
  }
  {  // Shape arithmetic exporters emit: Constant, Shape, Gather, Unsqueeze, Concat, Reshape.
    onnx::ModelProto m = NewModel(13);
    auto* g = m.mutable_graph();
    g->set_name("reshape");
    SetTensorType(g->add_input(), "x", {"batch", "2", "3"});
    SetTensorType(g->add_output(), "y", {"batch", "6"});
    auto* c = AddNode(g, "Constant", {}, {"zero"});
    auto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    a->mutable_t()->add_int64_data(0);
    auto* six = g->add_initializer();
    six->set_name("six");
    six->set_data_type(onnx::TensorProto::INT64);
    six->add_dims(1);
    six->add_int64_data(6);
    auto* axes = g->add_initializer();
    axes->set_name("axes");
    axes->set_data_type(onnx::TensorProto::INT64);
    axes->add_dims(1);
    axes->add_int64_data(0);
    AddNode(g, "Shape", {"x"}, {"s"});
    AddNode(g, "Gather", {"s", "zero"}, {"b"});
    AddNode(g, "Unsqueeze", {"b", "axes"}, {"b1"});
    auto* cat = AddNode(g, "Concat", {"b1", "six"}, {"target"});
    auto* ax = cat->add_attribute();
    ax->set_name("axis");
    ax->set_type(onnx::AttributeProto::INT);
    ax->set_i(0);
    AddNode(g, "Reshape", {"x", "target"}, {"y"});
    models.emplace_back("reshape", m);
  }
  // The older operator forms the loader rewrites into its normal form (model/opset_normalize.cc),
  // each in the opset that still has it, so mutations start inside those rewrites.
  {  // Softmax-11 family: axis 1 of a rank-3 input flattens to 2-D (the rewrite adds nodes);
     // the last axis takes the short path.
    onnx::ModelProto m = NewModel(11);
    auto* g = NewGraph(m, "softmax", {"3", "4"}, {"s", "l", "h"});
    IntAttr(AddNode(g, "Softmax", {"x"}, {"s"}), "axis", 1);
    AddNode(g, "LogSoftmax", {"x"}, {"l"});
    IntAttr(AddNode(g, "Hardmax", {"x"}, {"h"}), "axis", -1);
    models.emplace_back("softmax_opset11", m);
  }
  {  // Upsample-7 (scales attribute), Upsample-9 (scales input), Resize-10 -> Resize-11 form.
    for (int opset : {7, 9, 10}) {
      onnx::ModelProto m = NewModel(opset);
      auto* g = NewGraph(m, "upsample", {"2", "3", "3"}, {"y"});
      auto* n = AddNode(g, opset == 10 ? "Resize" : "Upsample", {"x"}, {"y"});
      StringAttr(n, "mode", opset == 9 ? "linear" : "nearest");
      if (opset == 7) {
        FloatsAttr(n, "scales", {1.f, 1.f, 2.f, 2.f});
      } else {
        n->add_input("scales");
        auto* sc = AddFloatInitializer(g, "scales", {4});
        sc->clear_float_data();
        for (float v : {1.f, 1.f, 2.f, 1.5f}) sc->add_float_data(v);
      }
      models.emplace_back((opset == 10 ? "resize_opset" : "upsample_opset") + std::to_string(opset), m);
    }
  }
  {  // Resize-13 as exporters write it: empty roi and scales, explicit sizes.
    onnx::ModelProto m = NewModel(13);
    auto* g = m.mutable_graph();
    g->set_name("resize13");
    SetTensorType(g->add_input(), "x", {"1", "2", "3", "3"});
    SetTensorType(g->add_output(), "y", {});
    AddFloatInitializer(g, "roi", {0});
    AddFloatInitializer(g, "no_scales", {0});
    AddInt64Initializer(g, "sizes", {1, 2, 5, 4});
    auto* n = AddNode(g, "Resize", {"x", "roi", "no_scales", "sizes"}, {"y"});
    StringAttr(n, "mode", "linear");
    StringAttr(n, "coordinate_transformation_mode", "half_pixel");
    models.emplace_back("resize_opset13", m);
  }
  {  // Pad-2 attributes (pads, value) in opset 7; Pad-11 inputs; Pad-18 axes.
    onnx::ModelProto m7 = NewModel(7);
    auto* g7 = NewGraph(m7, "pad7", {"2", "3"}, {"y"});
    auto* p7 = AddNode(g7, "Pad", {"x"}, {"y"});
    IntsAttr(p7, "pads", {0, 1, 2, 0, 1, 0});
    FloatAttr(p7, "value", 1.5f);
    models.emplace_back("pad_opset7", m7);
    onnx::ModelProto m11 = NewModel(11);
    auto* g11 = NewGraph(m11, "pad11", {"2", "3"}, {"y"});
    AddInt64Initializer(g11, "pads", {0, 0, 1, 0, 0, 1});
    StringAttr(AddNode(g11, "Pad", {"x", "pads"}, {"y"}), "mode", "reflect");
    models.emplace_back("pad_opset11", m11);
    onnx::ModelProto m18 = NewModel(18);
    m18.set_ir_version(8);
    auto* g18 = NewGraph(m18, "pad18", {"2", "3"}, {"y"});
    AddInt64Initializer(g18, "pads", {1, 2, 0, 1});
    AddInt64Initializer(g18, "axes", {-1, 1});
    AddFloatInitializer(g18, "value", {});
    AddNode(g18, "Pad", {"x", "pads", "value", "axes"}, {"y"});
    models.emplace_back("pad_opset18_axes", m18);
  }
  {  // Opset-7 attribute forms: Slice, Clip, Unsqueeze/Squeeze, Split, ReduceSum, TopK; Dropout.
    onnx::ModelProto m = NewModel(7);
    auto* g = NewGraph(m, "attrs7", {"4", "6"}, {"r", "tv"});  // the int64 indices stay unread
    auto* sl = AddNode(g, "Slice", {"x"}, {"s"});
    IntsAttr(sl, "starts", {1});
    IntsAttr(sl, "ends", {3});
    IntsAttr(sl, "axes", {1});
    auto* clip = AddNode(g, "Clip", {"s"}, {"c"});
    FloatAttr(clip, "min", -0.5f);
    FloatAttr(clip, "max", 0.5f);
    IntsAttr(AddNode(g, "Unsqueeze", {"c"}, {"u"}), "axes", {1});
    IntsAttr(AddNode(g, "Squeeze", {"u"}, {"q"}), "axes", {1});
    FloatAttr(AddNode(g, "Dropout", {"q"}, {"d"}), "ratio", 0.25f);
    auto* split = AddNode(g, "Split", {"d"}, {"a", "b"});
    IntAttr(split, "axis", 2);
    IntsAttr(split, "split", {2, 4});
    auto* red = AddNode(g, "ReduceSum", {"b"}, {"r"});
    IntsAttr(red, "axes", {2});
    auto* topk = AddNode(g, "TopK", {"a"}, {"tv", "ti"});
    IntAttr(topk, "k", 1);
    models.emplace_back("attrs_opset7", m);
  }
  {  // The same operators' opset-13 input forms.
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "inputs13", {"4", "6"}, {"r", "tv"});  // the int64 indices stay unread
    AddInt64Initializer(g, "starts", {1});
    AddInt64Initializer(g, "ends", {3});
    AddInt64Initializer(g, "axis1", {1});
    AddInt64Initializer(g, "axis2", {2});
    AddInt64Initializer(g, "split", {2, 4});
    AddInt64Initializer(g, "k", {1});
    AddFloatInitializer(g, "lo", {});
    AddNode(g, "Slice", {"x", "starts", "ends", "axis1"}, {"s"});
    AddNode(g, "Clip", {"s", "lo"}, {"c"});
    AddNode(g, "Unsqueeze", {"c", "axis1"}, {"u"});
    AddNode(g, "Squeeze", {"u", "axis1"}, {"q"});
    IntAttr(AddNode(g, "Split", {"q", "split"}, {"a", "b"}), "axis", 2);
    AddNode(g, "ReduceSum", {"b", "axis2"}, {"r"});
    AddNode(g, "TopK", {"a", "k"}, {"tv", "ti"});
    models.emplace_back("inputs_opset13", m);
  }
  {  // BatchNormalization-7 per activation (spatial=0) becomes elementwise nodes.
    onnx::ModelProto m = NewModel(7);
    auto* g = NewGraph(m, "bn_spatial0", {"2", "3"}, {"y"});
    for (const char* p : {"scale", "B", "mean", "var"}) AddFloatInitializer(g, p, {2, 3});
    g->mutable_initializer(3)->clear_float_data();
    for (int i = 0; i < 6; ++i) g->mutable_initializer(3)->add_float_data(0.5f + static_cast<float>(i));
    IntAttr(AddNode(g, "BatchNormalization", {"x", "scale", "B", "mean", "var"}, {"y"}), "spatial", 0);
    models.emplace_back("batchnorm_opset7_spatial0", m);
  }
  {  // Conv -> BatchNormalization (folded by the optimizer), Identity, Cast to its own type, and a
     // weight Transpose -> MatMul (constant folding).
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "conv_bn", {"2", "4", "4"}, {"y"});
    AddFloatInitializer(g, "w", {3, 2, 1, 1});
    for (const char* p : {"scale", "shift", "mean"}) AddFloatInitializer(g, p, {3});
    auto* var = AddFloatInitializer(g, "var", {3});
    var->clear_float_data();
    for (float v : {1.f, 2.f, 0.5f}) var->add_float_data(v);
    AddFloatInitializer(g, "fc", {4, 5});
    AddNode(g, "Conv", {"x", "w"}, {"c"});
    AddNode(g, "BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"bn"});
    AddNode(g, "Identity", {"bn"}, {"id"});
    IntAttr(AddNode(g, "Cast", {"id"}, {"cast"}), "to", onnx::TensorProto::FLOAT);
    AddNode(g, "Transpose", {"fc"}, {"fct"});
    AddNode(g, "MatMul", {"fct", "cast"}, {"y"});
    models.emplace_back("conv_bn_opset13", m);
  }
  {  // Shape computations the optimizer and SpecializeShapes fold: Range, ConstantOfShape, Expand, Tile.
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "shape_ops", {"3"}, {"y"});
    auto* start = g->add_initializer();
    start->set_name("zero");
    start->set_data_type(onnx::TensorProto::INT64);
    start->add_int64_data(0);
    auto* limit = g->add_initializer();
    limit->CopyFrom(*start);
    limit->set_name("three");
    limit->set_int64_data(0, 3);
    auto* delta = g->add_initializer();
    delta->CopyFrom(*start);
    delta->set_name("one");
    delta->set_int64_data(0, 1);
    AddInt64Initializer(g, "two_three", {2, 3});
    AddInt64Initializer(g, "repeats", {1, 2});
    AddNode(g, "Range", {"zero", "three", "one"}, {"r"});
    IntAttr(AddNode(g, "Cast", {"r"}, {"rf"}), "to", onnx::TensorProto::FLOAT);
    auto* cos = AddNode(g, "ConstantOfShape", {"two_three"}, {"ones"});
    auto* value = cos->add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    value->mutable_t()->add_dims(1);
    value->mutable_t()->add_float_data(1.f);
    AddNode(g, "Add", {"ones", "rf"}, {"sum"});
    AddNode(g, "Shape", {"x"}, {"xs"});
    AddNode(g, "Expand", {"rf", "xs"}, {"e"});
    AddNode(g, "Add", {"x", "e"}, {"xe"});
    AddNode(g, "Tile", {"xe", "repeats"}, {"t"});
    AddNode(g, "Tile", {"sum", "repeats"}, {"w"});
    AddNode(g, "Transpose", {"w"}, {"wt"});
    AddNode(g, "MatMul", {"t", "wt"}, {"y"});
    models.emplace_back("shape_ops_opset13", m);
  }
  {  // Initializers of several dtypes and storage fields (int32_data holds float16 and bool),
     // cast to float and summed.
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "dtypes", {"2"}, {"y"});
    std::vector<std::string> parts = {"x"};
    auto add = [&](const std::string& name, int dtype) {
      auto* t = g->add_initializer();
      t->set_name(name);
      t->set_data_type(dtype);
      t->add_dims(2);
      IntAttr(AddNode(g, "Cast", {name}, {name + "_f"}), "to", onnx::TensorProto::FLOAT);
      parts.push_back(name + "_f");
      return t;
    };
    auto* h = add("f16", onnx::TensorProto::FLOAT16);
    h->add_int32_data(0x3c00);  // 1.0
    h->add_int32_data(0xc000);  // -2.0
    auto* b = add("b", onnx::TensorProto::BOOL);
    b->add_int32_data(1);
    b->add_int32_data(0);
    auto* d = add("d", onnx::TensorProto::DOUBLE);
    d->add_double_data(0.5);
    d->add_double_data(-2);
    auto* u = add("u64", onnx::TensorProto::UINT64);
    u->add_uint64_data(7);
    u->add_uint64_data(1);
    add("i8", onnx::TensorProto::INT8)->set_raw_data(std::string("\x05\xfb", 2));
    AddNode(g, "Sum", parts, {"y"});
    models.emplace_back("dtypes_opset13", m);
  }
  {  // An If whose branches read an outer value (subgraph attributes, names from enclosing scopes).
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "if", {"3"}, {"y"});
    auto* cond = g->add_initializer();
    cond->set_name("cond");
    cond->set_data_type(onnx::TensorProto::BOOL);
    cond->add_int32_data(1);
    AddNode(g, "Relu", {"x"}, {"r"});
    auto* n = AddNode(g, "If", {"cond"}, {"y"});
    for (const char* branch : {"then_branch", "else_branch"}) {
      auto* a = n->add_attribute();
      a->set_name(branch);
      a->set_type(onnx::AttributeProto::GRAPH);
      auto* body = a->mutable_g();
      body->set_name(branch);
      SetTensorType(body->add_output(), std::string(branch) + "_out", {"batch", "3"});
      AddNode(body, std::string(branch) == "then_branch" ? "Identity" : "Neg", {"r"}, {std::string(branch) + "_out"});
    }
    models.emplace_back("if_opset13", m);
  }
  {  // An initializer in an external data file: the fuzz target's base folder does not exist.
    onnx::ModelProto m = NewModel(13);
    auto* g = NewGraph(m, "external", {"4"}, {"y"});
    auto* w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(4);
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    const std::vector<std::pair<std::string, std::string>> where = {{"location", "weights.bin"}, {"offset", "0"}, {"length", "16"}};
    for (const auto& [k, v] : where) {
      auto* e = w->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    AddNode(g, "Mul", {"x", "w"}, {"y"});
    models.emplace_back("external_data_opset13", m);
  }
  return models;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_seeds CORPUS_DIR [MODELS_DIR]\n");
    return 2;
  }
  const fs::path root = argv[1];
  std::error_code ec;
  fs::create_directories(root / "npy_fuzz", ec);
  fs::create_directories(root / "loader_fuzz", ec);
  int written = 0;

  const std::vector<tutti::Shape> shapes = {{}, {3}, {2, 3}, {1, 2, 2}, {2, 1, 2, 2}, {0, 4}};
  for (DataType dt : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt8, DataType::kUInt8,
                      DataType::kInt16, DataType::kUInt16, DataType::kInt32, DataType::kUInt32, DataType::kInt64,
                      DataType::kUInt64, DataType::kBool}) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      auto t = tutti::Tensor::Zeros(dt, shapes[i]);
      if (!t.ok()) continue;
      auto bytes = tutti::EncodeNpy(*t);
      if (!bytes.ok()) continue;
      const std::string name = tutti::NpyDescr(dt).substr(1) + "_rank" + std::to_string(shapes[i].size()) + "_" +
                               std::to_string(i) + ".npy";
      written += WriteFile(root / "npy_fuzz" / name, *bytes);
    }
  }
  for (const auto& [name, model] : Models()) written += WriteFile(root / "loader_fuzz" / (name + ".onnx"), model.SerializeAsString());
  if (argc > 2 && fs::is_directory(argv[2], ec)) {
    for (const auto& e : fs::directory_iterator(argv[2], ec)) {
      if (e.path().extension() == ".onnx" && e.file_size(ec) < (1u << 20)) {
        fs::copy_file(e.path(), root / "loader_fuzz" / e.path().filename(), fs::copy_options::overwrite_existing, ec);
        written += !ec;
      }
    }
  }
  std::printf("fuzz_seeds: %d seed files in %s\n", written, root.c_str());
  return written > 0 ? 0 : 1;
}
