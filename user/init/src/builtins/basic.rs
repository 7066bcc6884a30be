//! help, echo, exit.
use super::Builtin;
use crate::shell::Shell;
use alloc::string::String;
use core::fmt::Write;

pub const COMMANDS: &[Builtin] = &[
    Builtin {
        name: "help",
        usage: "help",
        help: "list the builtin commands",
        run: help,
    },
    Builtin {
        name: "echo",
        usage: "echo [-n] [ARG...]",
        help: "print the arguments (-n: no newline)",
        run: echo,
    },
    Builtin {
        name: "exit",
        usage: "exit [N]",
        help: "end the shell with status N (default 0)",
        run: exit,
    },
];

fn help(sh: &mut Shell, _args: &[String]) -> i32 {
    let mut out = sh.out();
    let _ = writeln!(out, "kexos shell builtins:");
    for b in super::all() {
        // One synopsis per line; a long one gets its description on the next line.
        let mut forms = b.usage.lines().peekable();
        while let Some(form) = forms.next() {
            if forms.peek().is_some() {
                let _ = writeln!(out, "  {form}");
            } else if form.len() <= 30 {
                let _ = writeln!(out, "  {form:<30} {}", b.help);
            } else {
                let _ = writeln!(out, "  {form}\n  {:<30} {}", "", b.help);
            }
        }
    }
    let _ = writeln!(
        out,
        "Any other command containing '/' or found in /bin is executed (it replaces the shell)."
    );
    let _ = writeln!(
        out,
        "Redirect a builtin's output with '> FILE' or '>> FILE'."
    );
    0
}

fn echo(sh: &mut Shell, args: &[String]) -> i32 {
    let mut words = &args[1..];
    let mut newline = true;
    while words.first().is_some_and(|w| w == "-n") {
        newline = false;
        words = &words[1..];
    }
    let mut out = sh.out();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.write_bytes(b" ");
        }
        out.write_bytes(w.as_bytes());
    }
    if newline {
        out.write_bytes(b"\n");
    }
    out.flush();
    // As bash: a failed write (e.g. a /sys file refusing the value) is reported.
    match out.error {
        Some(e) => {
            ulib::eprintln!("echo: write error: {}", e.message());
            1
        }
        None => 0,
    }
}

fn exit(_sh: &mut Shell, args: &[String]) -> i32 {
    let code = match args.get(1) {
        None => 0,
        Some(_) if args.len() > 2 => {
            ulib::eprintln!("exit: too many arguments");
            return 1;
        }
        Some(n) => match n.parse::<i64>() {
            Ok(n) => (n & 0xff) as i32,
            Err(_) => {
                ulib::eprintln!("exit: {n}: numeric argument required");
                return 2;
            }
        },
    };
    ulib::sys::exit(code)
}
