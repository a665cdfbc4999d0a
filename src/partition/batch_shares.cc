#include "partition/batch_shares.h"

#include <cstring>
#include <optional>

#include "runtime/compiled_model.h"

namespace tutti {

Result<int64_t> CommonBatch(const Graph& graph, std::span<const Tensor> inputs) {
  const int64_t batch = inputs.empty() || inputs[0].rank() < 1 ? 0 : inputs[0].dim(0);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].rank() < 1 || inputs[i].dim(0) != batch)
      return InvalidArgument("batch split: every input needs the same leading batch dim; input '",
                             i < graph.inputs().size() ? graph.value(graph.inputs()[i]).name : std::string("?"),
                             "' has shape ", ShapeToString(inputs[i].shape()), ", the first has batch ", batch);
  if (batch < 1) return InvalidArgument("batch split: empty batch");
  return batch;
}

Result<std::vector<Tensor>> ZeroBatchInputs(const Graph& graph, int64_t batch) {
  std::vector<Tensor> inputs;
  for (ValueId v : graph.inputs()) {
    const Value& in = graph.value(v);
    if (!in.info.shape || in.info.shape->empty())
      return InvalidArgument("batch profile: input '", in.name, "' has no leading batch dimension");
    Shape shape{batch};
    for (size_t d = 1; d < in.info.shape->size(); ++d) {
      const Dim& dim = (*in.info.shape)[d];
      if (!dim.known())
        return InvalidArgument("batch profile: input '", in.name, "' dim ", d, " (", dim.symbol,
                               ") is symbolic; only the leading batch dim may be");
      shape.push_back(dim.value);
    }
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Zeros(in.info.dtype, shape));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

Result<BatchProfileTable> ProfileBatchTableWithZeros(const Graph& graph, const RunBatchShare& run_share,
                                                     int64_t max_batch, const ProfilerOptions& options) {
  return ProfileBatchTable(
      [&](int64_t batch) -> Status {
        TUTTI_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, ZeroBatchInputs(graph, batch));
        std::vector<Tensor> outputs;
        return run_share(inputs, outputs);
      },
      max_batch, options);
}

std::vector<Tensor> SliceRows(std::span<const Tensor> tensors, int64_t offset, int64_t items) {
  std::vector<Tensor> out;
  out.reserve(tensors.size());
  for (const Tensor& t : tensors) out.push_back(t.SliceOuter(offset, offset + items));
  return out;
}

Result<std::vector<Tensor>> BatchOutputShapes::Allocate(const Graph& graph, std::span<const Tensor> inputs,
                                                        int64_t batch) {
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  std::vector<TensorInfo> info;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(shapes);
    if (it != cache_.end()) info = it->second;
  }
  if (info.empty()) {
    TUTTI_ASSIGN_OR_RETURN(Graph specialised, SpecializeForInputs(graph, shapes));
    for (ValueId v : specialised.outputs()) {
      const Value& out = specialised.value(v);
      std::optional<Shape> shape = out.info.shape ? ToConcrete(*out.info.shape) : std::nullopt;
      if (!shape || shape->empty() || (*shape)[0] != batch)
        return InvalidArgument("batch split: output '", out.name, "' is not batch-major (shape ",
                               out.info.shape ? SymbolicShapeToString(*out.info.shape) : std::string("unknown"),
                               " at batch ", batch, ")");
      info.push_back(out.info);
    }
    std::lock_guard<std::mutex> lock(mu_);
    cache_[shapes] = info;
  }
  std::vector<Tensor> outputs;
  for (const TensorInfo& i : info) {
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(i.dtype, *ToConcrete(*i.shape)));
    outputs.push_back(std::move(t));
  }
  return outputs;
}

Result<bool> StoreShareRows(std::span<const Tensor> outputs, std::span<const Tensor> share_outputs, int64_t offset,
                            int64_t items, const std::string& processor) {
  if (share_outputs.size() != outputs.size())
    return Internal("batch split: processor '", processor, "' returned ", share_outputs.size(), " outputs, expected ",
                    outputs.size());
  bool in_place = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor slice = outputs[i].SliceOuter(offset, offset + items);
    if (share_outputs[i].raw_data() == slice.raw_data()) continue;
    if (share_outputs[i].shape() != slice.shape() || share_outputs[i].dtype() != slice.dtype())
      return Internal("batch split: processor '", processor, "' returned output ", i, " as ",
                      share_outputs[i].DebugString(), ", expected ", slice.DebugString());
    std::memcpy(slice.raw_data(), share_outputs[i].raw_data(), slice.nbytes());
    in_place = false;
  }
  return in_place;
}

}  // namespace tutti
