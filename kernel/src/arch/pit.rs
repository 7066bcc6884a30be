//! The 8254 PIT (programmable interval timer): channel 0 is the 100 Hz tick
//! (arch::pic), channel 2 the reference the TSC is calibrated against
//! (time.rs). Ports: 0x40/0x42 channel data, 0x43 mode/command, 0x61 bit 0
//! channel 2's gate, bit 1 the speaker, bit 5 channel 2's output.

use x86_64::instructions::port::Port;

/// The PIT's input clock (Hz).
pub const PIT_HZ: u64 = 1_193_182;

/// One reading of channel 2's counter, with the TSC halfway through the
/// reading and the TSC cycles the reading took: how far from `tsc` the
/// count may have been latched.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// The count (down from 65536, modulo 2^16).
    pub count: u16,
    /// TSC in the middle of the reading.
    pub tsc: u64,
    /// TSC cycles from before the latch to after the last byte.
    pub width: u64,
}

/// Channel 2 counting down, gate high, speaker off.
pub struct Channel2 {
    cmd: Port<u8>,
    data: Port<u8>,
}

impl Channel2 {
    /// Start channel 2 counting down from 65536 in mode 0 (it keeps
    /// counting through 0, so two counts less than 65536 ticks apart are
    /// `a.wrapping_sub(b)` ticks apart).
    ///
    /// # Safety
    /// Nothing else may use PIT channel 2 or port 0x61 while the returned
    /// value is used (only time::calibrate does, once, at boot).
    pub unsafe fn start() -> Channel2 {
        let mut ctl = Port::<u8>::new(0x61);
        let mut ch = Channel2 { cmd: Port::new(0x43), data: Port::new(0x42) };
        // SAFETY: the PIT's and port 0x61's documented registers, ours
        // alone per this function's contract.
        unsafe {
            let v = ctl.read() & !0x03;
            ctl.write(v); // gate low, speaker off
            ch.cmd.write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0, binary
            ch.data.write(0); // count 0: 65536
            ch.data.write(0);
            ctl.write(v | 0x01); // gate high: counting starts
        }
        ch
    }

    /// Latch and read the counter between two TSC reads.
    pub fn sample(&mut self) -> Sample {
        let t0 = super::rdtsc();
        // SAFETY: channel 2's latch command and data port (see `start`).
        let (lo, hi) = unsafe {
            self.cmd.write(0b1000_0000); // latch channel 2
            (self.data.read(), self.data.read())
        };
        let t1 = super::rdtsc();
        let width = t1.wrapping_sub(t0);
        Sample { count: u16::from_le_bytes([lo, hi]), tsc: t0.wrapping_add(width / 2), width }
    }
}
