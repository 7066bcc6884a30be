//! Talking to a [`Machine`]'s serial console: waiting for text after the last match, typing
//! shell commands and reading their output, checks that print the transcript when they fail.

use kexec_core::purgatory_abi::RegionHash;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use bootstats::tsc::{tsc_lines, TscSource};

use crate::{markers, Machine, QemuExit};

/// Finds the first shell prompt (`kexos:/...# `, on one line) in `hay`; returns (start, end).
pub fn find_prompt(hay: &[u8]) -> Option<(usize, usize)> {
    let start_pat = markers::PROMPT_START.as_bytes();
    let mut from = 0;
    while let Some(s) = find(&hay[from..], start_pat).map(|i| i + from) {
        let rest = &hay[s + start_pat.len()..];
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        if let Some(e) = find(&rest[..line_end], markers::PROMPT_END.as_bytes()) {
            return Some((s, s + start_pat.len() + e + markers::PROMPT_END.len()));
        }
        from = s + 1;
    }
    None
}

/// The host's TSC rate in MHz, timed against the monotonic clock over 200 ms. Under TCG the
/// guest's TSC is the host's (QEMU reads it with `rdtsc`), so a guest's calibration must find
/// this. Each end is a clock reading between two TSC readings less than 100,000 cycles apart,
/// so that being descheduled there cannot skew it.
pub fn host_tsc_mhz() -> f64 {
    let (t0, a) = tsc_stamp();
    std::thread::sleep(Duration::from_millis(200));
    let (t1, b) = tsc_stamp();
    b.wrapping_sub(a) as f64 / t1.duration_since(t0).as_nanos() as f64 * 1000.0
}

/// The monotonic clock and the TSC at the same moment (see [`host_tsc_mhz`]).
#[allow(unsafe_code)] // reading the TSC is an intrinsic, unsafe in core::arch
fn tsc_stamp() -> (Instant, u64) {
    loop {
        // SAFETY: rdtsc has no preconditions on x86-64, the only host kexos builds on.
        let a = unsafe { core::arch::x86_64::_rdtsc() };
        let t = Instant::now();
        // SAFETY: as above.
        let b = unsafe { core::arch::x86_64::_rdtsc() };
        if b.wrapping_sub(a) < 100_000 {
            return (t, a + b.wrapping_sub(a) / 2);
        }
    }
}

/// The MHz figure ("2612.653") of the last TSC frequency line in `log`.
pub fn last_tsc_mhz(log: &str) -> Option<String> {
    tsc_lines(log).last().map(|(mhz, _)| mhz.to_string())
}

/// First occurrence of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Machine {
    /// Waits until the transcript after the last match satisfies `matcher` (which returns the
    /// match's (start, end) in the slice it is given). Returns the text from the last match up
    /// to and including this one.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        matcher: impl Fn(&[u8]) -> Option<(usize, usize)>,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let shared = self.shared.clone();
        let mut t = shared.t.lock().unwrap();
        loop {
            if let Some((_, end)) = matcher(&t.out[self.pos..]) {
                let text = String::from_utf8_lossy(&t.out[self.pos..self.pos + end]).into_owned();
                self.pos += end;
                return Ok(text);
            }
            if t.eof {
                drop(t);
                let status = self.child.wait().ok().map(QemuExit::from_status);
                self.exit = status;
                let err = anyhow!(
                    "{}: QEMU exited ({status:?}) while waiting for {what}",
                    self.name
                );
                return Err(self.fail(err));
            }
            let now = Instant::now();
            if now >= deadline {
                drop(t);
                let err = anyhow!(
                    "{}: timed out after {:.0} s waiting for {what}",
                    self.name,
                    timeout.as_secs_f64()
                );
                return Err(self.fail(err));
            }
            t = shared.cv.wait_timeout(t, deadline - now).unwrap().0;
        }
    }

    /// Waits for `pat` (a plain substring) in the output after the last match. Returns the text
    /// from the last match up to and including `pat`.
    pub fn expect(&mut self, pat: &str, timeout: Duration) -> Result<String> {
        let needle = pat.as_bytes().to_vec();
        self.wait_for(&format!("`{}`", pat.escape_debug()), timeout, |h| {
            find(h, &needle).map(|i| (i, i + needle.len()))
        })
    }

    /// Like [`Machine::expect`], and also returns when (since QEMU started) the end of the match
    /// arrived on the serial port, to the precision of one read of the pipe. Unlike
    /// [`Machine::elapsed`] after `expect`, this is exact even if the text arrived long before.
    pub fn expect_timed(&mut self, pat: &str, timeout: Duration) -> Result<(String, Duration)> {
        let text = self.expect(pat, timeout)?;
        Ok((text, self.match_time()))
    }

    /// When (since QEMU started) the end of the last match arrived on the serial port.
    pub fn match_time(&self) -> Duration {
        let t = self.shared.t.lock().unwrap();
        let offset = self.pos;
        let i = t.arrivals.partition_point(|&(len, _)| len < offset);
        match t.arrivals.get(i) {
            Some(&(_, at)) => at.saturating_duration_since(self.started),
            None => self.started.elapsed(),
        }
    }

    /// Waits for `pat`, then returns the rest of its line (without the newline).
    pub fn expect_line(&mut self, pat: &str, timeout: Duration) -> Result<String> {
        self.expect(pat, timeout)?;
        let rest = self.expect("\n", timeout)?;
        Ok(rest.trim_end_matches('\n').to_string())
    }

    /// Watches the output after the last match for `within`: fails as soon as `pat` appears.
    /// Returns Ok when the time is up or QEMU exits without printing it (does not move the
    /// match position).
    pub fn expect_none(&mut self, pat: &str, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        let needle = pat.as_bytes().to_vec();
        let shared = self.shared.clone();
        let mut t = shared.t.lock().unwrap();
        loop {
            if find(&t.out[self.pos..], &needle).is_some() {
                drop(t);
                let err = anyhow!(
                    "{}: `{}` appeared on the serial console (it must not within {:.0} s)",
                    self.name,
                    pat.escape_debug(),
                    within.as_secs_f64()
                );
                return Err(self.fail(err));
            }
            let now = Instant::now();
            if t.eof || now >= deadline {
                return Ok(());
            }
            t = shared.cv.wait_timeout(t, deadline - now).unwrap().0;
        }
    }

    /// Waits for the shell prompt `kexos:<cwd># `. Returns the text up to and including it.
    pub fn expect_prompt(&mut self, timeout: Duration) -> Result<String> {
        self.wait_for("the shell prompt `kexos:<cwd># `", timeout, find_prompt)
    }

    /// Checks, without waiting, that `pat` has not appeared anywhere in the transcript.
    pub fn assert_absent(&mut self, pat: &str) -> Result<()> {
        let found = find(&self.shared.t.lock().unwrap().out, pat.as_bytes()).is_some();
        if found {
            let err = anyhow!("{}: unexpected `{pat}` in the serial output", self.name);
            return Err(self.fail(err));
        }
        Ok(())
    }

    /// Writes raw bytes to the serial console.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let res = match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).and_then(|_| s.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        res.map_err(|e| {
            let err = anyhow!("{}: writing to the serial console: {e}", self.name);
            self.fail(err)
        })
    }

    /// Types `line` followed by Enter ([`Machine::line_ending`]).
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(self.line_ending.as_bytes());
        self.send(&bytes)
    }

    /// Runs a shell command: types it, waits for its echo and for the next prompt, and returns
    /// the output in between (without the echo line and the prompt).
    pub fn run(&mut self, cmd: &str) -> Result<String> {
        self.send_line(cmd)?;
        let timeout = self.cmd_timeout;
        self.expect(&format!("{cmd}\n"), timeout)
            .with_context(|| format!("echo of `{cmd}`"))?;
        let out = self
            .expect_prompt(timeout)
            .with_context(|| format!("prompt after `{cmd}`"))?;
        let (start, _) = find_prompt(out.as_bytes()).expect("the prompt was just matched");
        Ok(out[..start].to_string())
    }

    /// Field `name` (e.g. `MemTotal`) of the guest's `/proc/meminfo`, in kB.
    pub fn meminfo_kb(&mut self, name: &str) -> Result<u64> {
        let out = self.run("cat /proc/meminfo")?;
        out.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .with_context(|| format!("no {name} in {out:?}"))
    }

    /// `kexec -e` into a loaded kexos: purgatory verified the segments, the next kexos came in
    /// through the boot protocol with its .bss zeroed and this kexos's TSC frequency, reached
    /// its prompt, and `/proc/cmdline` is exactly `append`.
    pub fn exec_into_kexos(&mut self, what: &str, append: &str, timeout: Duration) -> Result<()> {
        self.exec_into_kexos_checked(what, append, timeout, RegionHash::Sha256)
    }

    /// [`Machine::exec_into_kexos`] for an image whose purgatory checks with `hash`: its
    /// `purgatory: <hash> ok` line, nothing else.
    pub fn exec_into_kexos_checked(&mut self, what: &str, append: &str, timeout: Duration, hash: RegionHash) -> Result<()> {
        let ours = last_tsc_mhz(&self.transcript());
        self.send_line("kexec -e")?;
        self.expect(hash.ok_line(), timeout)?;
        let boot = self.expect("boot: entered via boot protocol", timeout)?;
        self.check_tsc_passed_on(what, &boot, ours.as_deref())?;
        // The segment's zero tail (.bss) really is zero when the next kernel starts.
        self.expect("boot: .bss arrived zeroed", timeout)?;
        self.expect_prompt(timeout)?;
        let cmdline = self.run("cat /proc/cmdline")?;
        self.check(
            cmdline.trim_end_matches('\n') == append,
            format_args!("after {what}: /proc/cmdline is {cmdline:?}, expected {append:?}"),
        )
    }

    /// Checks that `boot` (a kexec'd kexos's log) runs its TSC clock at `ours`, the MHz of the
    /// kexos that kexec'd it, taken from it (bootparam::tsc) rather than calibrated again.
    pub fn check_tsc_passed_on(&mut self, what: &str, boot: &str, ours: Option<&str>) -> Result<()> {
        let Some(ours) = ours else {
            return self.check(false, format_args!("before {what}: the kexec'ing kexos logged no TSC frequency line"));
        };
        let got: Vec<_> = tsc_lines(boot).collect();
        self.check(
            got == [(ours, Some(TscSource::PassedOn))],
            format_args!("after {what}: TSC lines {got:?}, expected [({ours:?}, PassedOn)]"),
        )
    }

    /// Checks that purgatory checked with two CPUs (purgatory_core::split) in `log`: a region
    /// was cut where IMA's pass kept the state, and each CPU got between 35% and 65% of the
    /// bytes.
    pub fn check_second_cpu_share(&mut self, what: &str, log: &str) -> Result<()> {
        use kexec_core::purgatory_abi::SECOND_CPU_LINE;
        let line = log.lines().find_map(|l| l.split(SECOND_CPU_LINE).nth(1)).unwrap_or("");
        let share: Vec<u64> =
            line.trim().split(" of ").filter_map(|n| n.trim_end_matches(" bytes").parse().ok()).collect();
        let ok = matches!(share[..], [theirs, all] if all > 0 && (35..=65).contains(&(theirs * 100 / all)));
        let gave_up = log.lines().find(|l| l.contains(kexec_core::purgatory_abi::SECOND_CPU_GAVE_UP_LINE));
        self.check(ok, format_args!("{what}: purgatory's second CPU line: {line:?} ({gave_up:?})"))
    }

    /// Checks that the kernel's first TSC line says it calibrated against the PIT, and found
    /// the host's TSC rate within 1%. Returns the guest's figure (MHz).
    pub fn check_tsc_calibration(&mut self) -> Result<f64> {
        let log = self.transcript();
        let first = tsc_lines(&log).next();
        let host = host_tsc_mhz();
        let guest = first.filter(|(_, s)| *s == Some(TscSource::Calibrated)).and_then(|(mhz, _)| mhz.parse::<f64>().ok());
        self.check(
            guest.is_some_and(|g| (g - host).abs() <= host / 100.0),
            format_args!("TSC calibration: the kernel logged {first:?}, the host's TSC runs at {host:.3} MHz (1% allowed)"),
        )?;
        Ok(guest.unwrap_or(0.0))
    }

    /// Runs `cmd` and checks its output contains `want`. Returns the output.
    pub fn run_expect(&mut self, cmd: &str, want: &str) -> Result<String> {
        let out = self.run(cmd)?;
        if !out.contains(want) {
            let err = anyhow!(
                "{}: `{cmd}` printed {out:?}, expected it to contain {want:?}",
                self.name
            );
            return Err(self.fail(err));
        }
        Ok(out)
    }

    /// Records a failed check made by the caller (prints the log) and returns it as an error.
    pub fn check(&mut self, ok: bool, msg: impl std::fmt::Display) -> Result<()> {
        if ok {
            return Ok(());
        }
        let err = anyhow!("{}: {msg}", self.name);
        Err(self.fail(err))
    }

    /// Checks that `out` (the output of `what`) contains `want`; on failure the log is printed.
    pub fn check_contains(&mut self, what: &str, out: &str, want: &str) -> Result<()> {
        self.check(
            out.contains(want),
            format_args!("{what}: expected {want:?} in {out:?}"),
        )
    }

    /// Checks that `out` (the output of `what`) does not contain `unwanted`.
    pub fn check_lacks(&mut self, what: &str, out: &str, unwanted: &str) -> Result<()> {
        self.check(
            !out.contains(unwanted),
            format_args!("{what}: unexpected {unwanted:?} in {out:?}"),
        )
    }

    /// Types `poweroff`, and checks the kernel logs `kexos: power off` and QEMU exits with the
    /// poweroff status.
    pub fn poweroff(&mut self) -> Result<()> {
        self.send_line("poweroff")?;
        let t = self.cmd_timeout;
        self.expect(markers::POWER_OFF, t)?;
        let e = self.wait_exit(t)?;
        self.check(
            e == QemuExit::PowerOff,
            format_args!("after poweroff QEMU exited with {e:?}, expected PowerOff (status 1)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_matching() {
        assert_eq!(find_prompt(b"hello\nkexos:/# "), Some((6, 15)));
        assert_eq!(find_prompt(b"kexos:/tmp/a b# x"), Some((0, 16)));
        // A kernel log line is not a prompt, nor is a prompt split over lines.
        assert_eq!(find_prompt(b"kexos: /sbin/init (pid 1) exited\n"), None);
        assert_eq!(find_prompt(b"kexos:/\n# "), None);
        assert_eq!(find_prompt(b"kexos:/\nkexos:/# "), Some((8, 17)));
    }

    #[test]
    fn the_last_tsc_line_counts() {
        let log = "[ 0.007] time: TSC 2612.653 MHz (calibrated against the PIT)\n\
                   [ 0.007] time: TSC 2614.001 MHz (passed on by the previous kernel, not calibrated again)\n";
        assert_eq!(last_tsc_mhz(log).as_deref(), Some("2614.001"));
        assert_eq!(last_tsc_mhz("[ 0.1] kexos booting\n"), None);
    }
}
