// Opset normalisation: after loading, every operator is in ONE form -- its newest (opset 18) form --
// whatever opset the file was exported with, so each kernel (CPU, CUDA, shape inference) handles
// a single signature. The normal form, per operator:
//
//   Squeeze / Unsqueeze   axes is input 1 (int64 constant), never an attribute. Squeeze without it
//                         removes every dim of size 1.
//   Split                 split sizes are input 1 when given; without it the dim is cut into
//                         outputs.size() chunks of ceil(dim / n), the last one smaller (opset 18's
//                         num_outputs rule; for older opsets the dim divides evenly, same result).
//                         The num_outputs attribute is removed.
//   Reduce*               (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) axes is
//                         input 1 when given; no input = all axes unless noop_with_empty_axes=1.
//                         keepdims stays an attribute (default 1).
//   Clip                  min / max are inputs 1 / 2 (absent = unbounded), never attributes.
//   Pad                   pads is input 1 (int64, [x1_begin, x2_begin, ..., x1_end, ...]), the
//                         constant value is input 2 (absent = 0), mode stays an attribute.
//                         Input 3 (axes, opset 18) is folded into full-rank pads when constant and
//                         the rank is known; otherwise kept.
//   Slice                 starts / ends / axes / steps are inputs 1..4.
//   Resize                (X, roi, scales, sizes) as in opset 11+; Upsample and opset-10 Resize
//                         become Resize with coordinate_transformation_mode="asymmetric",
//                         nearest_mode="floor" (their semantics).
//   TopK                  k is input 1.
//   BatchNormalization    the legacy attributes spatial / is_test / consumed_inputs are removed;
//                         spatial=0 (opset 7, per-activation statistics) becomes the elementwise
//                         formula (Sub, Add, Sqrt, Div, Mul, Add).
//   Softmax, LogSoftmax,  axis is the single axis the op normalises over (opset 13 meaning). Older
//   Hardmax               opsets' "flatten to 2-D at axis" is rewritten: axis=-1 when it was the
//                         last axis, else Flatten -> op(axis=1) -> Reshape back.
//   Dropout               becomes Identity (inference) unless its mask output is used or
//                         training_mode is not a constant false.
// Nothing else changes: attributes keep ONNX names and defaults.
#pragma once

#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

// Rewrites `g` (whose opset("") says how to read its nodes) into the normal form above.
// Errors name the node (e.g. a Clip whose min attribute is not a float).
Status NormalizeOpsets(Graph& g);

}  // namespace tutti
