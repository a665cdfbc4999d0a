// How OpenMP threads wait, chosen before libgomp starts.
#pragma once

namespace tutti::cli {

// oneDNN (Debian's build) runs on OpenMP, whose threads by default spin at every barrier before
// sleeping, and each oneDNN primitive ends in a barrier with its work split statically. When the
// cores are shared (other processes, or tutti's own engine running several models at once), a
// spinning thread burns the time slice its partner needs to finish its share: measured on a loaded
// 2-core host, MobileNetV2 with 2 threads took 200-350 ms spinning and 35-38 ms with passive waits
// (30 ms with 1 thread). So unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set),
// this sets OMP_WAIT_POLICY=PASSIVE and re-executes the program: libgomp reads its environment once,
// when it is loaded, before main. Returns only when no re-exec happened (policy already chosen, or
// exec failed, in which case the default policy stays).
void ChooseOpenMpWaitPolicy(char** argv);

}  // namespace tutti::cli
