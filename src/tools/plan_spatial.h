// `tutti plan --split spatial` lives here so that the plan command (tools/plan.cc) only delegates:
// it calls RunPlanSpatial(args) when --split is spatial. Also registered as `tutti plan-spatial`.
#pragma once

#include "tools/command.h"

namespace tutti::cli {

// MODEL --processors LIST [--batch N] [--tables FILE] [--iters N] [--search optimizer|full|both]
// [--measure N] [--json]. Reads every flag it knows; the caller has consumed --split.
int RunPlanSpatial(Args& args);

}  // namespace tutti::cli
