//! kexos `/sbin/init`: runs `/etc/rc` (unless started with `--restarted`),
//! then the interactive shell on the serial console.
#![no_std]
#![no_main]

extern crate alloc;

mod builtins;
mod shell;

ulib::entry!(main);

fn main(args: &[&str]) -> i32 {
    let mut sh = shell::Shell::new();
    if !args.iter().skip(1).any(|a| *a == "--restarted") {
        sh.run_script("/etc/rc");
    }
    sh.repl()
}
