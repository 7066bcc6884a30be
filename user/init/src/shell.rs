//! The shell: prompt, line reading, command dispatch, redirection and exec.
use crate::builtins;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use shellcore::{Command, Event, LineEditor};
use ulib::abi::fs::{O_APPEND, O_CREAT, O_TRUNC, O_WRONLY};
use ulib::io::{FdWriter, STDIN, STDOUT};
use ulib::{eprintln, sys, Errno};

/// Exit status for "command not found" (as in sh).
pub const STATUS_NOT_FOUND: i32 = 127;
/// Exit status for "found but could not execute".
pub const STATUS_NOT_EXECUTABLE: i32 = 126;

pub struct Shell {
    /// Where builtins write their standard output (1, or a redirection target).
    pub stdout: i32,
    /// Status of the last command.
    pub status: i32,
    editor: LineEditor,
}

impl Shell {
    pub fn new() -> Self {
        Shell {
            stdout: STDOUT,
            status: 0,
            editor: LineEditor::new(),
        }
    }

    /// A writer for the current command's standard output (flushes on drop).
    pub fn out(&self) -> FdWriter {
        FdWriter::new(self.stdout)
    }

    /// Print `<cmd>: <what>: <strerror>` on stderr; returns 1.
    pub fn fail(&self, cmd: &str, what: &str, e: Errno) -> i32 {
        eprintln!("{cmd}: {what}: {}", e.message());
        1
    }

    /// The prompt: `kexos:<cwd># `.
    pub fn prompt(&self) -> String {
        let cwd = sys::getcwd().unwrap_or_else(|_| String::from("?"));
        format!("kexos:{cwd}# ")
    }

    /// Read one line from the console, echoing and editing.
    /// `None` when the line was cancelled with Ctrl-C.
    pub fn read_line(&mut self) -> Option<String> {
        let mut echo = Vec::new();
        loop {
            let mut b = [0u8; 1];
            match sys::read(STDIN, &mut b) {
                Ok(1) => {}
                // End of input: a pending line counts as entered.
                Ok(_) => {
                    if self.editor.buffer().is_empty() {
                        if stdin_is_pipe_or_file() {
                            sys::exit(self.status);
                        }
                        // The console has no end; a kernel that returns 0
                        // when nothing is pending is polled.
                        core::hint::spin_loop();
                        continue;
                    }
                    b[0] = b'\n';
                }
                Err(Errno::EINTR | Errno::EAGAIN) => continue,
                Err(e) => {
                    eprintln!("kexos: read: {}", e.message());
                    sys::exit(1);
                }
            }
            let ev = self.editor.feed(b[0], &mut echo);
            if !echo.is_empty() {
                let _ = sys::write_all(STDOUT, &echo);
                echo.clear();
            }
            match ev {
                Some(Event::Line(l)) => return Some(l),
                Some(Event::Interrupt) => return None,
                Some(Event::TooLong { len }) => {
                    eprintln!("kexos: line of {} bytes is longer than the shell's limit of {}: not run", len, shellcore::editor::MAX_LINE);
                    self.status = 2;
                    return Some(String::new());
                }
                None => {}
            }
        }
    }

    /// The interactive loop.
    pub fn repl(&mut self) -> ! {
        loop {
            let p = self.prompt();
            let _ = sys::write_all(STDOUT, p.as_bytes());
            match self.read_line() {
                Some(line) => self.run_line(&line),
                None => self.status = 130,
            }
        }
    }

    /// Run each command line of a script file; a missing file is not an error.
    pub fn run_script(&mut self, path: &str) {
        let text = match read_file(path) {
            Ok(t) => t,
            Err(Errno::ENOENT) => return,
            Err(e) => {
                self.fail("kexos", path, e);
                return;
            }
        };
        for line in shellcore::fmt::rc_commands(&text) {
            self.run_line(line);
        }
    }

    /// Parse and run one command line; sets `self.status`.
    pub fn run_line(&mut self, line: &str) {
        match shellcore::parse(line) {
            Ok(Some(cmd)) => self.status = self.run(cmd),
            Ok(None) => {}
            Err(e) => {
                eprintln!("kexos: {e}");
                self.status = 2;
            }
        }
    }

    fn run(&mut self, cmd: Command) -> i32 {
        let Some(name) = cmd.argv.first() else {
            // Only a redirection (`> file`): create/truncate the file.
            return match cmd.redirect {
                Some(r) => match open_redirect(&r) {
                    Ok(fd) => {
                        let _ = sys::close(fd);
                        0
                    }
                    Err(e) => self.fail("kexos", &r.path, e),
                },
                None => 0,
            };
        };
        if let Some(b) = builtins::find(name) {
            let Some(r) = cmd.redirect else {
                return (b.run)(self, &cmd.argv);
            };
            let fd = match open_redirect(&r) {
                Ok(fd) => fd,
                Err(e) => return self.fail("kexos", &r.path, e),
            };
            self.stdout = fd;
            let status = (b.run)(self, &cmd.argv);
            self.stdout = STDOUT;
            let _ = sys::close(fd);
            return status;
        }
        match cmd.redirect {
            Some(r) => self.exec_redirected(&cmd.argv, &r),
            None => self.exec(&cmd.argv),
        }
    }

    /// exec with stdout sent to a file: the program inherits fd 1 (dup2);
    /// if exec fails, the shell gets its own stdout back.
    fn exec_redirected(&mut self, argv: &[String], r: &shellcore::Redirect) -> i32 {
        let fd = match open_redirect(r) {
            Ok(fd) => fd,
            Err(e) => return self.fail("kexos", &r.path, e),
        };
        let saved = match sys::dup(STDOUT) {
            Ok(s) => s,
            Err(e) => {
                let _ = sys::close(fd);
                return self.fail("kexos", "dup", e);
            }
        };
        let moved = sys::dup2(fd, STDOUT);
        let _ = sys::close(fd);
        if let Err(e) = moved {
            let _ = sys::close(saved);
            return self.fail("kexos", "dup2", e);
        }
        let status = self.exec(argv);
        let _ = sys::dup2(saved, STDOUT);
        let _ = sys::close(saved);
        status
    }

    /// Replace the shell with a program: a word containing '/' is a path,
    /// anything else is looked up in /bin. Returns only on failure.
    fn exec(&mut self, argv: &[String]) -> i32 {
        let name = argv[0].as_str();
        let path = if name.contains('/') {
            String::from(name)
        } else {
            let p = format!("/bin/{name}");
            if sys::stat(&p).is_err() {
                eprintln!("kexos: {name}: command not found");
                return STATUS_NOT_FOUND;
            }
            p
        };
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let e = sys::execve(&path, &args, &[]);
        self.fail("kexos", &path, e);
        if e == Errno::ENOENT {
            STATUS_NOT_FOUND
        } else {
            STATUS_NOT_EXECUTABLE
        }
    }
}

/// True when stdin is a pipe or a regular file (e.g. the shell run on a
/// Linux host with piped input): then end of input ends the shell.
fn stdin_is_pipe_or_file() -> bool {
    use ulib::abi::fs::{S_IFIFO, S_IFMT, S_IFREG};
    sys::fstat(STDIN).is_ok_and(|st| matches!(st.st_mode & S_IFMT, S_IFIFO | S_IFREG))
}

fn open_redirect(r: &shellcore::Redirect) -> Result<i32, Errno> {
    let mode = if r.append { O_APPEND } else { O_TRUNC };
    sys::open(&r.path, O_WRONLY | O_CREAT | mode, 0o644)
}

/// Read a whole file as text (invalid UTF-8 is replaced).
pub fn read_file(path: &str) -> Result<String, Errno> {
    let fd = sys::open(path, ulib::abi::fs::O_RDONLY, 0)?;
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    let res = loop {
        match sys::read(fd, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => {}
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(fd);
    res.map(|_| String::from_utf8_lossy(&data).into_owned())
}
