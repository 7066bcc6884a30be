#!/usr/bin/env bash
# Builds the kexos purgatory into ONE relocatable x86_64 object.
#
#   purgatory/build.sh            -> target/purgatory/purgatory.o
#   PURGATORY_TARGET_DIR=DIR purgatory/build.sh   -> DIR/purgatory.o
#   purgatory/build.sh --verify FILE   only runs the check below on FILE
#
# Steps: cargo builds the staticlib (fat LTO, one codegen unit, core and
# compiler_builtins rebuilt with the same flags: see .cargo/config.toml);
# rust-lld -r links its members into one object, keeping only what the entry
# reaches (--gc-sections -e) and merging sections with purgatory.ld; then the
# disassembly must hold no SSE/AVX/x87/MMX instruction outside libs/sha256's
# SHA-NI block function (kexos_sha256_ni_blocks, run after OSFXSR is set).
# Prints the object's size, sections, relocation counts and symbols.
#
# The contract checks (ELF type, relocation types, undefined/common symbols,
# every purgatory_abi symbol GLOBAL OBJECT with its exact size, the entry at
# offset 0 of the first executable section, the kernel's loader accepting it
# above 4 GiB) are in Rust, against the purgatory-abi crate: `cargo xtask
# build` runs them right after this script (xtask/src/purgatory.rs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target_dir="${PURGATORY_TARGET_DIR:-$repo/target/purgatory}"
out="$target_dir/purgatory.o"

verify_only=
if [[ "${1:-}" == --verify ]]; then
    [[ $# == 2 ]] || { echo "usage: $0 [--verify FILE]" >&2; exit 2; }
    out="$(realpath "$2")"
    verify_only=1
fi

cd "$here"
# Flags from a calling build (xtask run by cargo, CI) must not replace the
# ones in .cargo/config.toml.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET \
    CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
lld="$bin/rust-lld"
readelf=("$bin/llvm-readobj" --elf-output-style=GNU)
objdump="$bin/llvm-objdump"
for tool in "$lld" "$bin/llvm-readobj" "$objdump"; do
    [[ -x "$tool" ]] || { echo "build.sh: missing $tool (rustup component add llvm-tools-preview)" >&2; exit 1; }
done

if [[ -z "$verify_only" ]]; then
    cargo build --release --target-dir "$target_dir"
    lib="$target_dir/x86_64-unknown-none/release/libkexos_purgatory.a"
    "$lld" -flavor gnu -r --gc-sections -e purgatory_start --strip-debug \
        -T "$here/purgatory.ld" -o "$out.tmp" --whole-archive "$lib"
    mv "$out.tmp" "$out"
fi

fail() {
    echo "build.sh: $out: $*" >&2
    exit 1
}

sections="$("${readelf[@]}" -S -W "$out" | sed -n 's/^ *\[ *\([0-9]*\)\] */\1 /p')"
relocs="$("${readelf[@]}" -r -W "$out" | awk '$3 ~ /^R_X86_64_/ { print $3 }' | sort | uniq -c)"
symbols="$("${readelf[@]}" -s -W "$out" | awk '$1 ~ /^[0-9]+:$/')"

# --- no SIMD/FPU: CR4.OSFXSR may be clear and nothing saves that state ----
# except in libs/sha256's two SSE block functions (SHA-NI, and the one that
# keeps the schedule in XMM registers), which run only after purgatory_main
# set CR4.OSFXSR (src/lib.rs, enable_sse).
simd_ok="kexos_sha256_ni_blocks kexos_sha256_xmm_blocks"
disasm="$("$objdump" -d --no-show-raw-insn "$out")"
for f in $simd_ok; do
    grep -q "<$f>:" <<<"$disasm" ||
        fail "no $f: the SIMD exemption below names a function that is not there"
done
simd="$(awk -v ok=" $simd_ok " '/^[0-9a-f]+ <.*>:$/ { name = substr($2, 2, length($2) - 3); skip = index(ok, " " name " ") > 0 }
    !skip && $1 ~ /^[0-9a-f]+:$/ && ($2 ~ /^(f|emms|ldmxcsr|stmxcsr|xsave|xrstor)/ || $0 ~ /%([xyz]?mm[0-9]|st)/)' <<<"$disasm" || true)"
[[ -z "$simd" ]] || fail "SIMD/FPU instructions: $(head -3 <<<"$simd")"

# --- report ---------------------------------------------------------------
size="$(stat -c %s "$out")"
echo "purgatory: $out: $size bytes"
echo "purgatory: alloc sections (index name type size):"
awk '$8 ~ /A/ { printf "  [%s] %-8s %-8s 0x%s\n", $1, $2, $3, $6 }' <<<"$sections"
echo "purgatory: relocations:"
sed 's/^ */  /' <<<"$relocs"
echo "purgatory: global symbols (name section size):"
awk '$5 == "GLOBAL" { printf "  %-26s %-3s %s\n", $8, $7, $3 }' <<<"$symbols"
