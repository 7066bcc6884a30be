//! What QEMU translates from `kexec -e` to the next kexos's prompt: the figure behind the two
//! "<= 3%" rows. Under TCG a kexec'd boot is short because little code runs, and all of it
//! runs for the first time: each guest instruction costs about 0.6 us to translate
//! (docs/benchmarks.md, "What a kexec'd boot translates"). Unlike the host times, this count
//! moves by a few dozen instructions at most from run to run (where a timer interrupt lands),
//! so a change that adds or removes first-run code shows here.
//!
//! How: QEMU's monitor on a Unix socket turns the `in_asm` log on just before `kexec -e` and
//! off at the prompt (`log in_asm`, `log none`); the log (`-D`) then lists every translation
//! block made in between, each guest instruction on a line of its own.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use kexec_core::purgatory_abi::RegionHash;
use kexos_tests::{Firmware, Machine};

use crate::bench;

/// The x86_64 higher half, where both kernels run once paging is theirs.
const HIGHER_HALF: u64 = 0xffff_8000_0000_0000;

/// Translation blocks and guest instructions in an `in_asm` log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Translated {
    pub blocks: u64,
    pub instructions: u64,
    /// Instructions in blocks in the higher half: the old kernel's `kexec -e` and the next
    /// kernel once it runs at its link address. The rest is identity-mapped or user code:
    /// relocate_kernel, purgatory, the next kernel's entry, init and the shell.
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
        format!("unix:{},server,nowait", sock_path.display()),
        "-D".to_string(),
        asm_path.display().to_string(),
    ];
    let mut m = Machine::spawn_image(&name, image, Firmware::Uefi, "512M", &extra, Some(logs.join(format!("{name}.log"))))
        .map_err(|e| format!("{e:#}"))?;
    m.print_on_failure = false;
    let to = Duration::from_secs(60);
    m.expect_prompt(to).map_err(|_| "no prompt".to_string())?;
    let cmd = format!("kexec -s -l /boot/kexos.bzImage --initrd=/boot/initramfs.cpio --append=bench{}", bench::digest_option(hash));
    let out = m.run(&cmd).map_err(|e| e.to_string())?;
    if !out.contains("(bzImage64) in ") {
        return Err(format!("load: {}", out.trim()));
    }
    let mut sock = UnixStream::connect(&sock_path).map_err(|e| format!("monitor {}: {e}", sock_path.display()))?;
    sock.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    read_prompt(&mut sock)?;
    monitor(&mut sock, "log in_asm")?;
    m.send_line("kexec -e").map_err(|e| e.to_string())?;
    m.expect(hash.ok_line(), to).map_err(|_| format!("no `{}`", hash.ok_line()))?;
    m.expect("boot: entered via boot protocol", to).map_err(|_| "the next kexos did not start".to_string())?;
    m.expect_prompt(to).map_err(|_| "the next kexos reached no prompt".to_string())?;
    // Closing the log flushes it.
    monitor(&mut sock, "log none")?;
    let _ = m.poweroff();
    m.kill();
    let log = std::fs::read_to_string(&asm_path).map_err(|e| format!("{}: {e}", asm_path.display()))?;
    let t = count(&log);
    if t.blocks == 0 {
        return Err(format!("{}: no translation blocks", asm_path.display()));
    }
    Ok(t)
}

/// Prints the count for purgatory's default SHA-256 and for `--digest=xxh64`.
pub fn print(image: &Path, logs: &Path) {
    println!("  translated by QEMU from `kexec -e` to the next kexos's prompt (release, 512M; within a few dozen from run to run):");
    for hash in [RegionHash::Sha256, RegionHash::Xxh64] {
        match kexec_translation(image, logs, hash) {
            Ok(t) => println!(
                "    {:<7} {} guest instructions in {} blocks: {} in the kernels' higher half, {} in relocate_kernel, purgatory, the entry code, init and the shell",
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
