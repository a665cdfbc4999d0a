// libFuzzer target for the ONNX model loader (model/onnx_loader.h) and what every load is followed
// by before a first run: PrepareGraph (validation, then the optimizer passes with CPU constant
// folding) and SpecializeShapes for a batch (what CompiledModel does per input shape). A .onnx file
// is the one big input users hand us, and each of those passes walks and rewrites whatever the
// loader accepted, so a loader that lets an inconsistent graph through shows up here as a crash.
// Besides "no crash, no sanitizer report, no huge allocation": every refusal must say why.
// External data resolves against a folder that does not exist, so such references fail cleanly
// instead of reading files off the fuzzing machine.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "backends/cpu/constant_evaluator.h"
#include "graph/shape_inference.h"
#include "model/onnx_loader.h"
#include "runtime/session.h"

namespace {

void RequireMessage(const tutti::Status& s) {
  if (!s.ok() && s.message().empty()) std::abort();  // every refusal must say why
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto graph = tutti::LoadOnnxModelFromBytes(bytes, "/nonexistent/tutti-fuzz-external-data");
  if (!graph.ok()) return RequireMessage(graph.status()), 0;
  const tutti::Status prepared = tutti::PrepareGraph(*graph, /*optimize=*/true);
  if (!prepared.ok()) return RequireMessage(prepared), 0;
  // Batch 2 rather than 1: a batch of 1 hides broadcasting and reshape mistakes along that axis.
  auto shapes = tutti::BatchInputShapes(*graph, 2);
  if (!shapes.ok()) return RequireMessage(shapes.status()), 0;
  RequireMessage(tutti::SpecializeShapes(*graph, *shapes, tutti::cpu::CpuNodeEvaluator()).status());
  return 0;
}
