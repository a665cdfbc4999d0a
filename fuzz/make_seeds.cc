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
