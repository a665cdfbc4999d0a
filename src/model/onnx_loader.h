// ONNX model import: a .onnx file (protobuf ModelProto) becomes a tutti Graph.
//
// What the loaded Graph looks like (what every later layer may rely on):
//  * initializers, Constant nodes and graph inputs that are also initializers are constant Values
//    (Value::constant), never nodes or graph inputs; external-data files are read at load time;
//  * operators are in the normal form of model/opset_normalize.h whatever opset the file uses;
//  * every value carries the dtype and the (possibly symbolic, e.g. "batch") shape that ONNX's
//    shape inference and ours (graph/shape_inference.h) could find; SpecializeShapes makes them
//    concrete for a given batch;
//  * subgraph attributes (If/Loop/Scan bodies) are stored as std::shared_ptr<Graph>, not executed.
// Supported: IR versions 3 and newer, default-domain (ai.onnx) opsets kMinOpset..kMaxOpset; nodes of
// other domains load and are left to the backends to claim or refuse.
// Every failure is a one-line Status naming the model, node, tensor or field; nothing throws.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

inline constexpr int64_t kMinOpset = 7;
inline constexpr int64_t kMaxOpset = 18;

// Loads `path`; external data is resolved relative to the file's folder.
Result<Graph> LoadOnnxModel(const std::string& path);
// Loads a serialized ModelProto held in memory. `base_dir` is where external data files live
// (empty: a model with external data is refused).
Result<Graph> LoadOnnxModelFromBytes(std::string_view bytes, const std::string& base_dir);

}  // namespace tutti
