//! What QEMU translates from `kexec -e` to the next kexos's prompt: most of what the
//! `kexec -e` -> next kexos prompt row costs under TCG, where each guest instruction run for the
//! first time is translated once (docs/benchmarks.md, "What is left of a kexec'd boot:
//! translation", has the cost per instruction and the figures). Unlike the host times, the
//! count barely moves between runs, so a change that adds or removes first-run code shows here.
//! The panic -> capture path is not counted; it runs mostly the same code.
//!
//! How: QEMU's monitor on a Unix socket turns the `in_asm` log on just before `kexec -e` and
//! off once the harness has seen the next prompt (`log in_asm`, `log none`), so the window
//! ends a little after the prompt. The log (`-D`) lists every translation block made in
//! between, each guest instruction on a line of its own; it is read after QEMU has exited.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use kexec_core::purgatory_abi::RegionHash;
use kexos_tests::{Firmware, Machine};

/// The x86_64 higher half, where both kernels run once paging is theirs.
const HIGHER_HALF: u64 = 0xffff_8000_0000_0000;

/// Translation blocks and guest instructions in an `in_asm` log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Translated {
    pub blocks: u64,
    pub instructions: u64,
    /// Instructions in blocks in the higher half: the old kernel's `kexec -e` and the next
    /// kernel once it runs at its link address. The rest is identity-mapped or user code: the
    /// old shell's `kexec -e`, relocate_kernel, purgatory, the next kernel's entry, init and
    /// the new shell.
    pub kernel: u64,
}

/// Counts an `in_asm` log: a block starts with `IN:`; each instruction line starts with its
/// address (`0xffffffff80201000:  48 89 e5  movq ...`).
pub fn count(log: &str) -> Translated {
    let mut t = Translated::default();
    let mut in_kernel = false;
    let mut first = false;
    for line in log.lines() {
        if line.starts_with("IN:") {
            t.blocks += 1;
            first = true;
            continue;
        }
        let Some(addr) = line.strip_prefix("0x").and_then(|l| l.split(':').next()) else { continue };
        let Ok(addr) = u64::from_str_radix(addr, 16) else { continue };
        if first {
            in_kernel = addr >= HIGHER_HALF;
            first = false;
        }
        t.instructions += 1;
        if in_kernel {
            t.kernel += 1;
        }
    }
    t
}

/// A monitor command; returns once the monitor prompts again.
fn monitor(sock: &mut UnixStream, cmd: &str) -> Result<(), String> {
    sock.write_all(format!("{cmd}\n").as_bytes()).map_err(|e| format!("monitor: {e}"))?;
    read_prompt(sock)
}

/// Reads until the monitor's `(qemu) ` prompt.
fn read_prompt(sock: &mut UnixStream) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"(qemu) ") {
        if Instant::now() > deadline {
            return Err("monitor: no prompt".into());
        }
        let n = sock.read(&mut buf).map_err(|e| format!("monitor: {e}"))?;
        if n == 0 {
            return Err("monitor: closed".into());
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// One boot of `image`: load kexos.bzImage with `hash`, then count what is translated from
/// `kexec -e` to the next kexos's prompt.
pub fn kexec_translation(image: &Path, logs: &Path, hash: RegionHash) -> Result<Translated, String> {
    let name = match hash {
        RegionHash::Sha256 => "bench-translate".to_string(),
        other => format!("bench-translate-{}", other.name()),
    };
    let sock_path = logs.join(format!("{name}.sock"));
    let asm_path = logs.join(format!("{name}.in_asm"));
    let _ = std::fs::remove_file(&sock_path);
    let _ = std::fs::remove_file(&asm_path);
    let extra = [
        "-monitor".to_string(),
        format!("unix:{},server=on,wait=off", sock_path.display()),
        "-D".to_string(),
        asm_path.display().to_string(),
    ];
    let r = count_one_kexec(&name, image, logs, hash, &sock_path, &extra);
    let _ = std::fs::remove_file(&sock_path);
    r?;
    let log = std::fs::read_to_string(&asm_path).map_err(|e| format!("{}: {e}", asm_path.display()))?;
    let t = count(&log);
    if t.blocks == 0 || t.instructions == 0 {
        return Err(format!("{}: no translated instructions ({} blocks)", asm_path.display(), t.blocks));
    }
    Ok(t)
}

/// The boot itself; the log is complete once this returns Ok (QEMU powered off cleanly).
fn count_one_kexec(name: &str, image: &Path, logs: &Path, hash: RegionHash, sock_path: &Path, extra: &[String]) -> Result<(), String> {
    let mut m = Machine::spawn_image(name, image, Firmware::Uefi, "512M", extra, Some(logs.join(format!("{name}.log"))))
        .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    let r = (|| {
        crate::bench_phases::load_self(&mut m, hash)?;
        let mut sock = UnixStream::connect(sock_path).map_err(|e| format!("monitor {}: {e}", sock_path.display()))?;
        sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
        read_prompt(&mut sock)?;
        monitor(&mut sock, "log in_asm")?;
        crate::bench_phases::exec_self(&mut m, hash)?;
        monitor(&mut sock, "log none")?;
        // QEMU writes the log through stdio; a clean exit flushes it.
        m.poweroff().map_err(|e| format!("poweroff: {e:#}"))
    })();
    m.kill();
    r
}

/// Prints the count for purgatory's default SHA-256 and for `--digest=xxh64`.
pub fn print(image: &Path, logs: &Path) {
    println!("  translated by QEMU from `kexec -e` to the next kexos's prompt (release, 512M, one run each):");
    for hash in [RegionHash::Sha256, RegionHash::Xxh64] {
        match kexec_translation(image, logs, hash) {
            Ok(t) => println!(
                "    {:<7} {} guest instructions in {} blocks: {} in the kernels' higher half, {} elsewhere (the old shell's `kexec -e`, relocate_kernel, purgatory, the entry code, init and the new shell)",
                hash.name(),
                t.instructions,
                t.blocks,
                t.kernel,
                t.instructions - t.kernel
            ),
            Err(e) => println!("    {:<7} n/a ({e})", hash.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_blocks_instructions_and_the_higher_half() {
        let log = "----------------\nIN: \n\
                   0x1ff34000:  fa                       cli      \n\
                   0x1ff34001:  48 31 c0                 xorq     %rax, %rax\n\
                   \n----------------\nIN: \n\
                   0xffffffff80201000:  55                       pushq    %rbp\n\
                   0xffffffff80201001:  48 89 e5                 movq     %rsp, %rbp\n\
                   0xffffffff80201004:  c3                       retq     \n\
                   \n----------------\nIN: kexos::kmain\n\
                   0x00401000:  0f 05                    syscall  \n";
        assert_eq!(count(log), Translated { blocks: 3, instructions: 6, kernel: 3 });
        assert_eq!(count(""), Translated::default());
    }
}
