//! The kernel log: every line timestamped `[sssss.uuuuuu]` (seconds since
//! kernel entry), printed on the console and kept in a ring buffer that
//! `dmesg` reads through syslog(2).

use core::fmt::{self, Write};
use spin::Mutex;

const LOG_SIZE: usize = 64 * 1024;

/// `repr(C)` so a dump reader can find its fields (VMCOREINFO gives the
/// offsets).
#[repr(C)]
struct Ring {
    buf: [u8; LOG_SIZE],
    /// Total bytes ever written; the ring holds the last LOG_SIZE of them.
    written: usize,
}

static RING: Mutex<Ring> = Mutex::new(Ring { buf: [0; LOG_SIZE], written: 0 });

impl Ring {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.buf[self.written % LOG_SIZE] = b;
            self.written += 1;
        }
    }
}

/// Formats one line into a fixed buffer (no heap: the log works before mm).
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

pub fn log(args: fmt::Arguments) {
    let ns = crate::time::now_ns();
    let mut line = Line { buf: [0; 512], len: 0 };
    let _ = write!(line, "[{:5}.{:06}] ", ns / 1_000_000_000, (ns / 1000) % 1_000_000);
    let _ = line.write_fmt(args);
    if line.len == line.buf.len() {
        line.len -= 1;
    }
    line.buf[line.len] = b'\n';
    line.len += 1;
    x86_64::instructions::interrupts::without_interrupts(|| {
        RING.lock().push(&line.buf[..line.len]);
        crate::console::write_bytes(&line.buf[..line.len]);
    });
}

/// The dying kernel's last words: printed without the console's lock and
/// kept in the ring too, so a crash dump holds the panic message and
/// backtrace. The ring is skipped if its lock is held (by the code that
/// crashed): this never waits.
pub fn emergency_print(args: fmt::Arguments) {
    struct Raw;
    impl Write for Raw {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            crate::console::emergency_write(s.as_bytes());
            if let Some(mut ring) = RING.try_lock() {
                ring.push(s.as_bytes());
            }
            Ok(())
        }
    }
    let _ = Raw.write_fmt(args);
}

/// Where the ring is, for VMCOREINFO (a dump reader finds the log there):
/// its address, size, and the offsets of `buf` and `written`.
pub fn ring_layout() -> (u64, usize, usize, usize) {
    let ring = RING.lock();
    let at = &*ring as *const Ring as u64;
    (at, core::mem::size_of::<Ring>(), core::mem::offset_of!(Ring, buf), core::mem::offset_of!(Ring, written))
}

/// Bytes currently held (syslog SIZE_BUFFER answers the capacity instead).
pub const CAPACITY: usize = LOG_SIZE;

/// Copy the log's retained text, oldest first, starting at a line boundary.
pub fn read_all(out: &mut [u8]) -> usize {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let ring = RING.lock();
        let held = ring.written.min(LOG_SIZE);
        let start = ring.written - held;
        let mut skip = 0;
        if start > 0 {
            // Drop the partial first line the ring cut through.
            while skip < held && ring.buf[(start + skip) % LOG_SIZE] != b'\n' {
                skip += 1;
            }
            skip += 1;
        }
        let avail = held.saturating_sub(skip);
        // Like Linux's READ_ALL, keep the newest text when the buffer is short.
        let n = avail.min(out.len());
        let from = ring.written - n;
        for (i, b) in out.iter_mut().take(n).enumerate() {
            *b = ring.buf[(from + i) % LOG_SIZE];
        }
        n
    })
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::klog::log(format_args!($($arg)*)) };
}
