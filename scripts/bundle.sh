#!/usr/bin/env bash
# Makes a self-contained, relocatable tutti folder for another machine of the same kind (x86-64
# Linux with glibc >= this one's, an NVIDIA driver, cuBLAS 13 and cuDNN 9 of its own):
#   OUT/bin/tutti, OUT/bin/tutti_*_tests   stripped, RPATH $ORIGIN/../lib
#   OUT/lib/libtutti.so + every shared library they load that such a machine lacks, RPATH $ORIGIN
# and, with --tar, OUT.tar.xz beside it (what travels to the GPU machine).
#
# usage: scripts/bundle.sh OUT [--build DIR] [--tests "cuda backends models"] [--tar]
# What the target already has (so is left out): glibc, libstdc++/libgcc_s, libgomp, zlib, libcrypto 3
# and libudev (seen on the GPU machine, 2026-12-02; its libssl.so.3 was missing), and the NVIDIA
# libraries (driver, cuBLAS, cuDNN), as ../shared/DEVICE.md found there.
# TUTTI_BUNDLE_ALSO="libfoo.so.1 ..." forces more libraries in; TUTTI_BUNDLE_LIMIT_MIB (64) is the
# size the folder must stay under.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=""; build="$root/build/release"; tests="cuda backends models"; tar=0
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --tar) tar=1; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) [ -z "$out" ] || { echo "bundle.sh: one OUT only" >&2; exit 2; }; out=$1; shift ;;
  esac
done
[ -n "$out" ] || { echo "usage: scripts/bundle.sh OUT [--build DIR] [--tests \"cuda backends\"] [--tar]" >&2; exit 2; }
command -v patchelf >/dev/null || { echo "bundle.sh: needs patchelf (apt-get install patchelf)" >&2; exit 1; }
[ -x "$build/bin/tutti" ] || { echo "bundle.sh: no $build/bin/tutti: build first (cmake --build --preset release)" >&2; exit 1; }

rm -rf "$out"; mkdir -p "$out/bin" "$out/lib"
cp "$build/bin/tutti" "$out/bin/"
for t in $tests; do
  if [ -x "$build/bin/tutti_${t}_tests" ]; then cp "$build/bin/tutti_${t}_tests" "$out/bin/"
  else echo "bundle.sh: note: no tutti_${t}_tests in $build/bin (not built), left out" >&2; fi
done
cp -L "$build/lib/libtutti.so" "$out/lib/"

# Libraries the target machine provides itself.
present='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libutil|libresolv|libstdc\+\+|libgcc_s|libgomp|libz|libcrypto|libudev|libcuda|libcudart|libcublas|libcublasLt|libcudnn[a-z_]*|libnvidia-[a-z-]*)\.so'
copy_deps() {  # $1: an ELF file; copies what it loads (and they load) that the target lacks
  ldd "$1" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    if [[ "$name" =~ $present ]] && [[ " ${TUTTI_BUNDLE_ALSO:-} " != *" $name "* ]]; then continue; fi
    [ -e "$out/lib/$name" ] && continue
    cp -L "$path" "$out/lib/$name"
  done
}
for f in "$out"/bin/* "$out/lib/libtutti.so"; do copy_deps "$f"; done
for f in "$out"/lib/*; do copy_deps "$f"; done  # ldd already lists transitive ones; this catches dlopen-free leftovers

for f in "$out"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$f"; strip --strip-unneeded "$f"; done
for f in "$out"/lib/*; do patchelf --set-rpath '$ORIGIN' "$f"; strip --strip-unneeded "$f" 2>/dev/null || true; done

# Every dependency resolves inside the folder or to a library the target has.
missing=$(for f in "$out"/bin/* "$out"/lib/*; do ldd "$f" | grep 'not found' || true; done | sort -u)
[ -z "$missing" ] || { echo "bundle.sh: unresolved: $missing" >&2; exit 1; }

size_mib=$(( $(du -sb "$out" | cut -f1) / 1048576 ))
limit=${TUTTI_BUNDLE_LIMIT_MIB:-64}
echo "bundle: $out: $(ls "$out/bin" | wc -l) programs, $(ls "$out/lib" | wc -l) libraries, ${size_mib} MiB"
if [ "$tar" = 1 ]; then
  tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
  echo "bundle: $out.tar.xz: $(( $(stat -c %s "$out.tar.xz") / 1048576 )) MiB"
fi
# What travels is the tar when there is one, else the folder.
travel_mib=$size_mib; [ "$tar" = 1 ] && travel_mib=$(( $(stat -c %s "$out.tar.xz") / 1048576 ))
if ((travel_mib >= limit)); then echo "bundle.sh: $travel_mib MiB is over the ${limit} MiB limit" >&2; exit 1; fi
