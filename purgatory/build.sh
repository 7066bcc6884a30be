#!/usr/bin/env bash
# Builds the kexos purgatory into ONE relocatable x86_64 object and checks
# that the kernel's loader will accept it.
#
#   purgatory/build.sh            -> target/purgatory/purgatory.o
#   PURGATORY_TARGET_DIR=DIR purgatory/build.sh   -> DIR/purgatory.o
#   purgatory/build.sh --verify FILE   only runs the checks below on FILE
#
# Steps: cargo builds the staticlib (fat LTO, one codegen unit, core and
# compiler_builtins rebuilt with the same flags: see .cargo/config.toml);
# rust-lld -r links its members into one object, keeping only what
# purgatory_start reaches (--gc-sections -e) and merging sections with
# purgatory.ld; then the object is verified:
#   - ET_REL, EM_X86_64;
#   - relocation types only R_X86_64_{NONE,64,32,32S,PC32,PLT32}, and no
#     32S in fact (it overflows for a placement above 2 GiB);
#   - no undefined and no SHN_COMMON symbols;
#   - every patchable symbol GLOBAL, exact size, in a PROGBITS section;
#   - purgatory_start GLOBAL at offset 0 of the first executable section,
#     e_entry = 0;
#   - no SSE/AVX/x87/MMX instruction in the disassembly.
# Prints the object's size, sections, relocation counts and symbols.
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

# --- header -------------------------------------------------------------
header="$("${readelf[@]}" -h "$out")"
grep -Eq '^ *Type: +REL ' <<<"$header" || fail "not ET_REL"
grep -Eq '^ *Machine: +Advanced Micro Devices X86-64' <<<"$header" || fail "not x86_64"
grep -Eq '^ *Class: +ELF64' <<<"$header" || fail "not ELF64"
entry="$(sed -n 's/^ *Entry point address: *//p' <<<"$header")"
[[ "$entry" == 0x0 ]] || fail "e_entry is $entry, expected 0x0"

# --- sections: index -> "name type flags" --------------------------------
sections="$("${readelf[@]}" -S -W "$out" | sed -n 's/^ *\[ *\([0-9]*\)\] */\1 /p')"
section_type() { awk -v n="$1" '$1 == n { print $3 }' <<<"$sections"; }
first_exec="$(awk '$1 != 0 && $8 ~ /X/ { print $1; exit }' <<<"$sections")"

# --- relocations ----------------------------------------------------------
relocs="$("${readelf[@]}" -r -W "$out" | awk '$3 ~ /^R_X86_64_/ { print $3 }' | sort | uniq -c)"
bad_relocs="$(awk '{ print $2 }' <<<"$relocs" |
    grep -Ev '^R_X86_64_(NONE|64|32|32S|PC32|PLT32)$' || true)"
[[ -z "$bad_relocs" ]] || fail "relocation types the kernel rejects: $(echo $bad_relocs)"
# The kernel accepts R_X86_64_32S, but it overflows once the purgatory sits
# at or above 2 GiB, which the kernel may choose: none may be present.
! grep -q 'R_X86_64_32S$' <<<"$relocs" ||
    fail "R_X86_64_32S present (breaks a placement above 2 GiB; build with code-model=large)"

# --- symbols --------------------------------------------------------------
# Num: Value Size Type Bind Vis Ndx Name
symbols="$("${readelf[@]}" -s -W "$out" | awk '$1 ~ /^[0-9]+:$/')"
undefined="$(awk '$1 != "0:" && $7 == "UND" { print $8 }' <<<"$symbols")"
[[ -z "$undefined" ]] || fail "undefined symbols: $(echo $undefined)"
common="$(awk '$7 == "COM" { print $8 }' <<<"$symbols")"
[[ -z "$common" ]] || fail "SHN_COMMON symbols: $(echo $common)"

check_symbol() { # name size type
    local line
    line="$(awk -v n="$1" '$8 == n' <<<"$symbols")"
    [[ -n "$line" ]] || fail "symbol $1 missing"
    [[ "$(wc -l <<<"$line")" == 1 ]] || fail "symbol $1 defined more than once"
    read -r _ value size type bind _ ndx _ <<<"$line"
    [[ "$bind" == GLOBAL ]] || fail "$1 is $bind, not GLOBAL"
    [[ "$type" == "$3" ]] || fail "$1 is $type, not $3"
    [[ "$ndx" =~ ^[0-9]+$ ]] || fail "$1 is in section $ndx"
    [[ "$(section_type "$ndx")" == PROGBITS ]] || fail "$1 is in a $(section_type "$ndx") section"
    [[ "$2" == - || "$size" == "$2" ]] || fail "$1 has size $size, expected $2"
}
check_symbol purgatory_sha_regions 256 OBJECT
check_symbol purgatory_sha256_digest 32 OBJECT
check_symbol purgatory_region_digests 512 OBJECT
check_symbol entry64_regs 136 OBJECT
check_symbol purgatory_serial_port 2 OBJECT
check_symbol purgatory_flags 8 OBJECT
check_symbol purgatory_start - FUNC
read -r _ start_value _ _ _ _ start_ndx _ <<<"$(awk '$8 == "purgatory_start"' <<<"$symbols")"
[[ "$start_ndx" == "$first_exec" && "$((16#$start_value))" == 0 ]] ||
    fail "purgatory_start is at $start_ndx:0x$start_value, not at offset 0 of section $first_exec"

# --- no SIMD/FPU: CR4.OSFXSR may be clear and nothing saves that state ----
simd="$("$objdump" -d --no-show-raw-insn "$out" |
    awk '$1 ~ /^[0-9a-f]+:$/ && ($2 ~ /^(f|emms|ldmxcsr|stmxcsr|xsave|xrstor)/ || $0 ~ /%([xyz]?mm[0-9]|st)/)' || true)"
[[ -z "$simd" ]] || fail "SIMD/FPU instructions: $(head -3 <<<"$simd")"

# --- report ---------------------------------------------------------------
size="$(stat -c %s "$out")"
echo "purgatory: $out: $size bytes, ET_REL x86_64, entry purgatory_start (section $first_exec, offset 0)"
echo "purgatory: alloc sections (index name type size):"
awk '$8 ~ /A/ { printf "  [%s] %-8s %-8s 0x%s\n", $1, $2, $3, $6 }' <<<"$sections"
echo "purgatory: relocations:"
sed 's/^ */  /' <<<"$relocs"
echo "purgatory: global symbols (name section size):"
awk '$5 == "GLOBAL" { printf "  %-26s %-3s %s\n", $8, $7, $3 }' <<<"$symbols"
