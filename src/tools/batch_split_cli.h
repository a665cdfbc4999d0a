// One batch across several processors from the command line (issue 5):
//   tutti plan MODEL --split batch --batch B --processors cpu:0,cpu:1[,cuda:0] [--json]
//   tutti run|bench MODEL --split batch --processors LIST ...
// run.cc and bench.cc hand over to RunSplitBatch when --split is given; plan.cc to RunPlanBatch.
#pragma once

#include "tools/command.h"

namespace tutti::cli {

// Prints the greedy and exact plans, the single-processor and equal-split baselines, each
// processor's table and the ideal time. Reads every flag it knows; the caller consumed --split.
int RunPlanBatch(Args& args);
// `run` (bench = false) or `bench` with --split batch.
int RunSplitBatch(Args& args, bool bench);

}  // namespace tutti::cli
