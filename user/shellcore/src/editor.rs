//! The shell's line editor: a state machine fed one console byte at a time.
//!
//! The kernel does not echo; the editor produces the bytes to echo:
//! - printable ASCII and UTF-8 bytes (>= 0x80) are appended and echoed;
//! - backspace (0x08) and DEL (0x7f) erase one character: `"\x08 \x08"`;
//! - Enter is `\r` or `\n`; `\r\n` counts as one Enter. Echoes `"\n"`
//!   (the kernel's serial driver turns it into CRLF);
//! - Ctrl-C (0x03) discards the line, echoes `"^C\n"` and reports [`Event::Interrupt`];
//! - Ctrl-U (0x15) erases the whole line;
//! - ANSI escape sequences (`ESC [ ... final`, `ESC O x`, `ESC x`) and every
//!   other control byte are ignored;
//! - a line longer than [`MAX_LINE`] is never cut and run: the bytes past the
//!   limit are not kept or echoed, and Enter reports [`Event::TooLong`] with
//!   the length typed, so the shell refuses the line with a message.

use alloc::string::String;
use alloc::vec::Vec;

/// Longest line the shell runs; a longer one is refused at Enter.
pub const MAX_LINE: usize = 4096;

const BS: u8 = 0x08;
const DEL: u8 = 0x7f;
const ESC: u8 = 0x1b;
const CTRL_C: u8 = 0x03;
const CTRL_U: u8 = 0x15;

/// What a byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enter: the finished line (without the terminator).
    Line(String),
    /// Ctrl-C: the line was discarded.
    Interrupt,
    /// Enter on a line longer than [`MAX_LINE`]: discarded; `len` bytes were typed.
    TooLong { len: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    /// After ESC.
    Esc,
    /// Inside `ESC [` ... (CSI): parameters until a final byte 0x40..=0x7e.
    Csi,
    /// After `ESC O` (SS3): one more byte.
    Ss3,
}

/// Line editor state. Keep one for the life of the shell so a `\r\n` split
/// across two lines' worth of reads is still one Enter.
#[derive(Clone, Debug)]
pub struct LineEditor {
    buf: Vec<u8>,
    state: State,
    after_cr: bool,
    /// Bytes typed past [`MAX_LINE`] on this line (not kept).
    dropped: usize,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    pub const fn new() -> Self {
        LineEditor {
            buf: Vec::new(),
            state: State::Normal,
            after_cr: false,
            dropped: 0,
        }
    }

    /// The line typed so far.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Forget the current line (not the `\r\n` memory).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.dropped = 0;
        self.state = State::Normal;
    }

    /// Feed one byte. Bytes to echo are appended to `echo`.
    pub fn feed(&mut self, b: u8, echo: &mut Vec<u8>) -> Option<Event> {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        match self.state {
            State::Esc => {
                self.state = match b {
                    b'[' => State::Csi,
                    b'O' => State::Ss3,
                    _ => State::Normal,
                };
                return None;
            }
            State::Csi => {
                if (0x40..=0x7e).contains(&b) {
                    self.state = State::Normal;
                }
                return None;
            }
            State::Ss3 => {
                self.state = State::Normal;
                return None;
            }
            State::Normal => {}
        }
        match b {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                self.after_cr = b == b'\r';
                echo.push(b'\n');
                let dropped = core::mem::take(&mut self.dropped);
                if dropped != 0 {
                    let len = self.buf.len() + dropped;
                    self.buf.clear();
                    return Some(Event::TooLong { len });
                }
                let line = String::from_utf8_lossy(&self.buf).into_owned();
                self.buf.clear();
                Some(Event::Line(line))
            }
            // Past the limit, an erase takes back a byte that was not kept.
            BS | DEL if self.dropped != 0 => {
                self.dropped -= 1;
                None
            }
            BS | DEL => {
                self.erase_char(echo);
                None
            }
            CTRL_C => {
                self.buf.clear();
                self.dropped = 0;
                echo.extend_from_slice(b"^C\n");
                Some(Event::Interrupt)
            }
            CTRL_U => {
                while !self.buf.is_empty() {
                    self.erase_char(echo);
                }
                self.dropped = 0;
                None
            }
            ESC => {
                self.state = State::Esc;
                None
            }
            0x20..=0x7e | 0x80..=0xff => {
                if self.buf.len() < MAX_LINE && self.dropped == 0 {
                    self.buf.push(b);
                    echo.push(b);
                } else {
                    self.dropped += 1;
                }
                None
            }
            _ => None,
        }
    }

    /// Erase the last character (a whole UTF-8 sequence), echoing `\b \b`.
    fn erase_char(&mut self, echo: &mut Vec<u8>) {
        if self.buf.is_empty() {
            return;
        }
        // Pop continuation bytes (10xxxxxx) and then the lead byte.
        while let Some(c) = self.buf.pop() {
            if c & 0xc0 != 0x80 {
                break;
            }
        }
        echo.extend_from_slice(b"\x08 \x08");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed a byte string; return (events, echo).
    fn run(ed: &mut LineEditor, input: &[u8]) -> (Vec<Event>, Vec<u8>) {
        let mut echo = Vec::new();
        let ev = input
            .iter()
            .filter_map(|&b| ed.feed(b, &mut echo))
            .collect();
        (ev, echo)
    }
    fn line(s: &str) -> Event {
        Event::Line(s.into())
    }

    #[test]
    fn simple_lines() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"ls /\r");
        assert_eq!(ev, vec![line("ls /")]);
        assert_eq!(echo, b"ls /\n");
        let (ev, _) = run(&mut ed, b"pwd\n");
        assert_eq!(ev, vec![line("pwd")]);
    }

    #[test]
    fn crlf_is_one_enter() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"a\r\nb\r\n\r\n");
        assert_eq!(ev, vec![line("a"), line("b"), line("")]);
        assert_eq!(echo, b"a\nb\n\n");
        // LF LF is two Enters, CR CR too.
        let (ev, _) = run(&mut ed, b"\n\n\r\r");
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn backspace_and_del() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"lx\x08s\x7f\x7fpwd\r");
        assert_eq!(ev, vec![line("pwd")]);
        assert_eq!(echo, b"lx\x08 \x08s\x08 \x08\x08 \x08pwd\n");
    }

    #[test]
    fn backspace_on_empty_line_echoes_nothing_harmful() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"\x08\x7fa\r");
        assert_eq!(ev, vec![line("a")]);
        assert_eq!(echo, b"a\n");
    }

    #[test]
    fn backspace_erases_utf8_char() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, "aé\x7f\r".as_bytes());
        assert_eq!(ev, vec![line("a")]);
        assert_eq!(echo, "aé\x08 \x08\n".as_bytes());
    }

    #[test]
    fn ctrl_c_discards() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"rm -rf\x03ls\r");
        assert_eq!(ev, vec![Event::Interrupt, line("ls")]);
        assert_eq!(echo, b"rm -rf^C\nls\n");
    }

    #[test]
    fn ctrl_u_kills_line() {
        let mut ed = LineEditor::new();
        let (ev, echo) = run(&mut ed, b"abc\x15pwd\r");
        assert_eq!(ev, vec![line("pwd")]);
        assert_eq!(echo, b"abc\x08 \x08\x08 \x08\x08 \x08pwd\n");
    }

    #[test]
    fn escapes_and_controls_ignored() {
        let mut ed = LineEditor::new();
        // Up arrow, Right arrow, F1 (SS3), Delete (CSI 3~), Alt-x, tab, bell, ^D.
        let (ev, echo) = run(&mut ed, b"a\x1b[A\x1b[C\x1bOP\x1b[3~\x1bx\t\x07\x04b\r");
        assert_eq!(ev, vec![line("ab")]);
        assert_eq!(echo, b"ab\n");
    }

    #[test]
    fn long_lines_are_refused_never_cut() {
        let mut ed = LineEditor::new();
        let input = vec![b'x'; MAX_LINE + 10];
        let (ev, echo) = run(&mut ed, &input);
        assert!(ev.is_empty());
        assert_eq!(echo.len(), MAX_LINE);
        assert_eq!(ed.buffer().len(), MAX_LINE);
        let (ev, _) = run(&mut ed, b"\r");
        assert_eq!(ev, vec![Event::TooLong { len: MAX_LINE + 10 }]);
        // The next line is whole again; exactly MAX_LINE bytes run.
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\r');
        let (ev, _) = run(&mut ed, &input);
        assert_eq!(ev, vec![line(&"y".repeat(MAX_LINE))]);
        // Erasing what went past the limit brings the line back under it.
        let mut input = vec![b'z'; MAX_LINE + 2];
        input.extend_from_slice(b"\x7f\x7f\r");
        let (ev, _) = run(&mut ed, &input);
        assert_eq!(ev, vec![line(&"z".repeat(MAX_LINE))]);
        // Ctrl-C forgets an overlong line.
        let mut input = vec![b'w'; MAX_LINE + 1];
        input.extend_from_slice(b"\x03ok\r");
        let (ev, _) = run(&mut ed, &input);
        assert_eq!(ev, vec![Event::Interrupt, line("ok")]);
    }
}
