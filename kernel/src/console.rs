//! The serial console (COM1, 16550 UART): output for the kernel log and
//! user writes, and an input queue filled by the COM1 interrupt.
//! Output translates "\n" to "\r\n"; input is delivered raw (the shell edits).
//!
//! Input is never dropped: the queue holds two of the shell's longest lines,
//! and when it is full the bytes stay in the UART, whose full receive
//! buffer makes the sender wait (QEMU stops reading its chardev while the
//! 16550 cannot take more: back-pressure, as a real line's flow control).

use spin::Mutex;
use uart_16550::SerialPort;
use x86_64::instructions::interrupts;

const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<SerialPort>> = Mutex::new(None);

/// Bytes received but not read yet: room for two 4096-byte shell lines.
const INPUT_SIZE: usize = 8192;

struct InputQueue {
    buf: [u8; INPUT_SIZE],
    head: usize,
    len: usize,
}

static INPUT: Mutex<InputQueue> = Mutex::new(InputQueue { buf: [0; INPUT_SIZE], head: 0, len: 0 });

pub fn init() {
    // SAFETY: COM1 is the standard PC serial port; nothing else drives it.
    let mut port = unsafe { SerialPort::new(COM1) };
    port.init(); // also enables the "received data" interrupt
    *PORT.lock() = Some(port);
}

fn put_bytes(port: &mut SerialPort, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            port.send_raw(b'\r');
        }
        port.send_raw(b);
    }
}

/// Write bytes to the console (used by write(2) on fds 1/2 and by the log).
pub fn write_bytes(bytes: &[u8]) {
    interrupts::without_interrupts(|| {
        if let Some(port) = PORT.lock().as_mut() {
            put_bytes(port, bytes);
        }
    })
}

/// Write without taking the console lock: for the panic and fault paths
/// (klog::emergency_print), where the lock may be held by the code that failed.
pub fn emergency_write(bytes: &[u8]) {
    // SAFETY: a fresh handle on COM1; at worst it interleaves bytes with an
    // interrupted writer, which is acceptable when dying.
    let mut port = unsafe { SerialPort::new(COM1) };
    put_bytes(&mut port, bytes);
}

/// Move every byte the UART holds into the input queue. Called from the
/// COM1 interrupt and, as a fallback, by readers waiting for input.
pub fn irq() {
    let Some(mut guard) = PORT.try_lock() else { return };
    let Some(port) = guard.as_mut() else { return };
    let mut input = INPUT.lock();
    // Full: leave the rest in the UART (back-pressure); a reader calls this
    // again after taking bytes out.
    while input.len < input.buf.len() {
        let Ok(b) = port.try_receive() else { break };
        let tail = (input.head + input.len) % input.buf.len();
        input.buf[tail] = b;
        input.len += 1;
    }
}

/// Block until at least one byte is available, then return as many as fit.
pub fn read(out: &mut [u8]) -> usize {
    if out.is_empty() {
        return 0;
    }
    loop {
        interrupts::disable();
        irq();
        {
            let mut input = INPUT.lock();
            if input.len > 0 {
                let n = out.len().min(input.len);
                for b in out.iter_mut().take(n) {
                    *b = input.buf[input.head];
                    input.head = (input.head + 1) % input.buf.len();
                }
                input.len -= n;
                drop(input);
                interrupts::enable();
                return n;
            }
        }
        // Sleep until the next interrupt (COM1, or the 100 Hz tick as a backstop).
        interrupts::enable_and_hlt();
    }
}
