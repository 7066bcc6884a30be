//! `cargo xtask bench`: boot figures and sizes, then the kexec figures of kexos and Linux
//! side by side (bench.rs), self-kexec (bench.rs) and crash dumps (bench_crash.rs).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use boot::linux::LinuxFixture;
use boot::Firmware;
use kexos_tests::{markers, Machine};

use crate::cli::Opts;
use crate::{
    bench, bench_crash, bench_ima, bench_phases, bench_self, bench_sha, bench_sig, file_size, kib, Xtask,
};

impl Xtask {
    /// The disk image the self-kexec figures boot: the default layout without the Linux
    /// fixture, as the scenarios use (None, with the reason printed, if it cannot be built).
    fn self_kexec_image(&self) -> Option<std::path::PathBuf> {
        let artifacts = kexos_tests::Artifacts::at(&self.root);
        let opts = kexos_tests::BootOptions { name: "bench-phases-self".into(), ..kexos_tests::BootOptions::new(Firmware::Uefi) };
        opts.build_image(&artifacts).map_err(|e| println!("  (no self-kexec image: {e:#})")).ok()
    }

    pub(crate) fn bench(&self, opts: &Opts) -> Result<ExitCode> {
        if let Some(only) = opts
            .only
            .as_deref()
            .filter(|o| !matches!(*o, "crash" | "sig" | "ima" | "self" | "phases" | "sha"))
        {
            bail!("--only takes `crash`, `sig`, `ima`, `self`, `phases` or `sha`, not `{only}`");
        }
        // The release kernel also trusts the Debian Secure Boot CA, for the signed-kexec figures.
        let o = Opts {
            release: true,
            extra_trusted: self
                .linux_fixture()
                .map(|f| vec![f.debian_ca])
                .unwrap_or_default(),
            ..Opts::default()
        };
        let built = self.build(&o)?;
        self.prerequisites(Firmware::Uefi)?;
        // Every QEMU of the bench, kexos's and Linux's, starts with its RAM populated, so no
        // figure carries the host's first-touch page faults (kexos_tests::set_mem_prealloc).
        kexos_tests::set_mem_prealloc(true);
        println!("bench: guest RAM populated before each boot (-mem-prealloc), for kexos and Linux alike");
        match no_thp_for_qemu() {
            Ok(()) => println!("bench: QEMU's memory (TCG code buffer, guest RAM) in 4 KiB pages, no transparent huge pages (PR_SET_THP_DISABLE), for kexos and Linux alike"),
            Err(e) => println!("bench: PR_SET_THP_DISABLE failed ({e}): QEMU's code buffer may take 2 MiB page faults inside short figures"),
        }
        let no_fixture = "no Linux fixture; see above";
        if opts.only.as_deref() == Some("sig") {
            match built.with_linux.then(|| LinuxFixture::at(&self.root)) {
                Some(fx) => bench_sig::signature_figures(&self.root, &fx),
                None => println!("signed kexec: n/a ({no_fixture})"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        if opts.only.as_deref() == Some("ima") {
            match built.with_linux.then(|| LinuxFixture::at(&self.root)) {
                Some(fx) => bench_ima::measurement_figures(&self.root, &fx),
                None => println!("measured kexec: n/a ({no_fixture})"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        if opts.only.as_deref() == Some("phases") {
            let image = boot::image_path(&self.target("images"), Firmware::Uefi);
            match built.with_linux.then(|| LinuxFixture::at(&self.root)) {
                Some(fx) => bench_phases::phase_figures(&image, self.self_kexec_image().as_deref(), &fx, &self.root),
                None => println!("kexec phases: n/a ({no_fixture})"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        if opts.only.as_deref() == Some("sha") {
            self.sha_ni_qemu();
            bench_sha::sha256_figures(&self.root);
            return Ok(ExitCode::SUCCESS);
        }
        if opts.only.as_deref() == Some("self") {
            bench_self::self_kexec(&self.root, &built.stripped, None);
            return Ok(ExitCode::SUCCESS);
        }
        if opts.only.is_some() {
            let fx = LinuxFixture::at(&self.root);
            bench_crash::crash_dumps(&self.root, built.with_linux.then_some(&fx), no_fixture);
            return Ok(ExitCode::SUCCESS);
        }
        let image = boot::image_path(&self.target("images"), Firmware::Uefi);
        let mut m = Machine::spawn_image(
            "bench",
            &image,
            Firmware::Uefi,
            "512M",
            &[],
            Some(self.target("test-logs").join("bench.log")),
        )?;
        let to = Duration::from_secs(120);
        m.expect(markers::KERNEL_READY, to)?;
        let t_ready = m.elapsed();
        m.expect_prompt(to)?;
        let t_prompt = m.elapsed();
        // The kernel logs the figure at the first console read, i.e. usually just after the
        // prompt: look for the whole line, waiting for it if it has not arrived yet.
        let figure = |log: &str| {
            let rest = &log[log.find(markers::BOOT_TO_PROMPT)? + markers::BOOT_TO_PROMPT.len()..];
            let end = rest.find(" ms")?;
            Some(rest[..end].trim().to_string())
        };
        if figure(&m.transcript()).is_none() {
            m.expect(markers::BOOT_TO_PROMPT, to)?;
            m.expect(" ms", to)?;
        }
        let figure = figure(&m.transcript()).unwrap_or_else(|| "?".into());
        // The timeline follows the boot-to-prompt line; the breakdown came before init.
        let _ = m.expect(bootstats::TIMELINE_PREFIX, to).and_then(|_| m.expect("\n", to));
        let log = m.transcript();
        let stat = |p: &str| Some(log[log.find(p)? + p.len()..].lines().next()?.to_string());
        let timeline = stat(bootstats::TIMELINE_PREFIX).and_then(|l| bootstats::Timeline::parse(&l));
        let memory = stat(bootstats::MEM_PREFIX).and_then(|l| bootstats::MemBreakdown::parse(&l));
        let kexec = if built.with_linux {
            m.print_on_failure = false;
            let (figures, why) = bench::kexec_into_linux(&mut m, kexec_core::purgatory_abi::RegionHash::Sha256);
            Some((figures, why))
        } else {
            m.poweroff()?;
            None
        };
        drop(m);

        let kernel = file_size(&built.kernel)?;
        println!("kexos bench (release kernel, UEFI, TCG)");
        println!("  kernel entry -> shell prompt (kernel log):  {figure} ms");
        println!(
            "  boot steps (guest ms, each step's own):    {}",
            timeline.as_ref().map_or("n/a".into(), bench_self::timeline_ms)
        );
        println!(
            "  memory at 512M:                            {}",
            memory.as_ref().map_or("n/a".into(), bench_self::breakdown_mib)
        );
        println!(
            "  host wall time, QEMU start -> '{}': {:.3} s",
            markers::KERNEL_READY,
            t_ready.as_secs_f64()
        );
        println!(
            "  host wall time, QEMU start -> prompt:      {:.3} s",
            t_prompt.as_secs_f64()
        );
        // The target applies to the kernel that boots: the disk images and /boot/kexos.elf
        // carry the stripped ELF (only `kexos_boot64` kept); the unstripped one is the build's
        // copy for addr2line, about 150 KiB of it the symbol table.
        let stripped = file_size(&built.stripped)?;
        println!(
            "  kernel ELF as booted (stripped):           {} ({} bytes; target < 1 MiB: {})",
            kib(stripped),
            stripped,
            if stripped < 1 << 20 { "yes" } else { "NO" }
        );
        println!("  kernel ELF unstripped (for addr2line):     {} ({} bytes)", kib(kernel), kernel);
        println!(
            "  initramfs:                                 {}{}",
            kib(file_size(&built.initramfs)?),
            if built.with_linux {
                " (with the Linux fixture)"
            } else {
                ""
            }
        );
        let Some((mut figures, why)) = kexec else {
            println!("kexec into Linux: n/a (no Linux fixture; see above)");
            bench_self::self_kexec(&self.root, &built.stripped, None);
            bench_crash::crash_dumps(&self.root, None, no_fixture);
            return Ok(ExitCode::SUCCESS);
        };
        // The same payload kexec'd by Linux itself (Debian's kexec-tools), in the same machine.
        let fx = LinuxFixture::at(&self.root);
        let linux_why = bench::linux_kexec_linux(&fx, &self.target(""), "bench-linux-kexec", &mut figures);
        let kexec_package = std::fs::read_to_string(fx.dir.join("kexec.package"))
            .ok()
            .and_then(|p| p.lines().next().map(str::to_string))
            .unwrap_or_else(|| "kexec-tools".into());
        println!(
            "kexec into Linux {} (vmlinuz {}, initrd {}, --append=\"{}\"; QEMU TCG, q35, 512M)",
            fx.version().unwrap_or_else(|_| "?".into()),
            file_size(&fx.kernel).map(kib).unwrap_or_default(),
            file_size(&fx.initrd).map(kib).unwrap_or_default(),
            bench::APPEND
        );
        let linux_head = format!(
            "Linux {} ({kexec_package} -s)",
            fx.version().unwrap_or_default()
        );
        let w0 = figures.iter().map(|f| f.label.len()).max().unwrap_or(0) + 1;
        let w1 = figures
            .iter()
            .map(|f| f.value.as_deref().unwrap_or("n/a").len())
            .max()
            .unwrap_or(0)
            .max("kexos (shell kexec)".len());
        println!(
            "  {:<w0$}  {:<w1$}  {linux_head}",
            "", "kexos (shell kexec)"
        );
        for f in &figures {
            println!(
                "  {:<w0$}  {:<w1$}  {}",
                format!("{}:", f.label),
                f.value.as_deref().unwrap_or("n/a"),
                f.linux.as_deref().unwrap_or("n/a")
            );
        }
        println!("  (logs: target/test-logs/bench.log, target/test-logs/bench-linux-kexec.log; host times are between the arrivals of two console lines)");
        if let Some(why) = why {
            println!("  (kexos stopped early: {why})");
        }
        if let Some(why) = linux_why {
            println!("  (Linux stopped early: {why})");
        }
        let image = boot::image_path(&self.target("images"), Firmware::Uefi);
        bench_phases::phase_figures(&image, self.self_kexec_image().as_deref(), &fx, &self.root);
        bench_self::self_kexec(&self.root, &built.stripped, Some(&figures));
        bench_sig::signature_figures(&self.root, &fx);
        bench_ima::measurement_figures(&self.root, &fx);
        self.sha_ni_qemu();
        bench_sha::sha256_figures(&self.root);
        bench_crash::crash_dumps(&self.root, Some(&fx), no_fixture);
        Ok(ExitCode::SUCCESS)
    }
}

/// Every QEMU the bench starts, kexos's and Linux's, inherits this: no transparent huge pages
/// for any of its memory. QEMU madvises its TCG code buffer (and guest RAM) for THP, and the
/// host then fills each new 2 MiB of the code buffer at once when translation first reaches it,
/// a stall of several ms that lands inside a short figure in some runs and not in others.
/// Figures and trade-offs: docs/benchmarks.md, "QEMU's memory without transparent huge pages".
fn no_thp_for_qemu() -> std::io::Result<()> {
    // prctl is variadic and the kernel reads each argument as an unsigned long.
    let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
    // SAFETY: PR_SET_THP_DISABLE takes no pointers; it only sets this process's (and its
    // future children's) transparent huge page policy.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
