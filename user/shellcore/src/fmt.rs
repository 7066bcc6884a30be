//! Text formatting for builtins: `ls -l` lines, `stat` output, path joining,
//! and `/etc/rc` line selection.

use abi::fs::{Stat, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// `ls -l` style mode string, e.g. `-rw-r--r--`, `drwxr-xr-x`, `crw-rw-rw-`.
pub fn mode_string(mode: u32) -> String {
    let t = match mode & S_IFMT {
        S_IFDIR => 'd',
        S_IFREG => '-',
        S_IFLNK => 'l',
        S_IFCHR => 'c',
        S_IFBLK => 'b',
        S_IFIFO => 'p',
        S_IFSOCK => 's',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    // (read, write, exec bit, special bit, special char when exec / not exec)
    let triads = [
        (0o400, 0o200, 0o100, 0o4000, 's', 'S'),
        (0o40, 0o20, 0o10, 0o2000, 's', 'S'),
        (0o4, 0o2, 0o1, 0o1000, 't', 'T'),
    ];
    for (r, w, x, special, on, off) in triads {
        s.push(if mode & r != 0 { 'r' } else { '-' });
        s.push(if mode & w != 0 { 'w' } else { '-' });
        s.push(match (mode & x != 0, mode & special != 0) {
            (true, false) => 'x',
            (false, false) => '-',
            (true, true) => on,
            (false, true) => off,
        });
    }
    s
}

/// What `stat` calls the file type.
pub fn file_type_name(st: &Stat) -> &'static str {
    match st.st_mode & S_IFMT {
        S_IFREG if st.st_size == 0 => "regular empty file",
        S_IFREG => "regular file",
        S_IFDIR => "directory",
        S_IFLNK => "symbolic link",
        S_IFCHR => "character special file",
        S_IFBLK => "block special file",
        S_IFIFO => "fifo",
        S_IFSOCK => "socket",
        _ => "weird file",
    }
}

/// Whether the mode is a directory.
pub fn is_dir(mode: u32) -> bool {
    mode & S_IFMT == S_IFDIR
}

/// `ls -l` lines: `MODE NLINK SIZE NAME`, numeric columns right-aligned to
/// the widest value in the listing.
pub fn ls_long<S: AsRef<str>>(entries: &[(S, Stat)]) -> Vec<String> {
    let digits = |v: u64| format!("{v}").len();
    let wl = entries
        .iter()
        .map(|(_, s)| digits(s.st_nlink))
        .max()
        .unwrap_or(1);
    let ws = entries
        .iter()
        .map(|(_, s)| digits(s.st_size.max(0) as u64))
        .max()
        .unwrap_or(1);
    entries
        .iter()
        .map(|(name, st)| {
            format!(
                "{} {:>wl$} {:>ws$} {}",
                mode_string(st.st_mode),
                st.st_nlink,
                st.st_size.max(0),
                name.as_ref()
            )
        })
        .collect()
}

/// `stat FILE` output (coreutils layout, without times and owners' names).
pub fn stat_text(path: &str, st: &Stat) -> String {
    format!(
        "  File: {path}\n  Size: {:<10}\tBlocks: {:<10} IO Block: {:<6} {}\n\
         Device: {:x}h/{}d\tInode: {:<11} Links: {}\n\
         Access: ({:04o}/{})  Uid: ({:>5})   Gid: ({:>5})\n",
        st.st_size,
        st.st_blocks,
        st.st_blksize,
        file_type_name(st),
        st.st_dev,
        st.st_dev,
        st.st_ino,
        st.st_nlink,
        st.st_mode & 0o7777,
        mode_string(st.st_mode),
        st.st_uid,
        st.st_gid,
    )
}

/// `dir/name`, or `name` itself when it is absolute.
pub fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.into()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The command lines of an `/etc/rc` script: non-empty lines whose first
/// non-blank character is not `#`, trimmed.
pub fn rc_commands(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(mode: u32, nlink: u64, size: i64) -> Stat {
        Stat {
            st_mode: mode,
            st_nlink: nlink,
            st_size: size,
            ..Default::default()
        }
    }

    #[test]
    fn modes() {
        assert_eq!(mode_string(S_IFREG | 0o644), "-rw-r--r--");
        assert_eq!(mode_string(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(S_IFCHR | 0o666), "crw-rw-rw-");
        assert_eq!(mode_string(S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(S_IFREG | 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(0o000), "?---------");
    }

    #[test]
    fn long_listing_aligns() {
        let entries = [
            ("boot", st(S_IFDIR | 0o755, 2, 0)),
            ("init", st(S_IFREG | 0o755, 1, 123456)),
        ];
        assert_eq!(
            ls_long(&entries),
            vec!["drwxr-xr-x 2      0 boot", "-rwxr-xr-x 1 123456 init"]
        );
        let e: [(&str, Stat); 0] = [];
        assert!(ls_long(&e).is_empty());
    }

    #[test]
    fn stat_output() {
        let t = stat_text("/etc/rc", &st(S_IFREG | 0o644, 1, 0));
        assert!(t.starts_with("  File: /etc/rc\n  Size: 0 "), "{t}");
        assert!(t.contains("regular empty file"));
        assert!(t.contains("Access: (0644/-rw-r--r--)"));
        assert_eq!(t.lines().count(), 4);
    }

    #[test]
    fn joins() {
        assert_eq!(join("/", "etc"), "/etc");
        assert_eq!(join("/etc", "rc"), "/etc/rc");
        assert_eq!(join("/etc/", "rc"), "/etc/rc");
        assert_eq!(join(".", "x"), "./x");
        assert_eq!(join("/tmp", "/abs"), "/abs");
    }

    #[test]
    fn rc_lines() {
        let rc = "# boot script\n\necho hello\n   \n  # indented comment\n  mkdir /tmp/x  \r\nls";
        assert_eq!(
            rc_commands(rc).collect::<Vec<_>>(),
            vec!["echo hello", "mkdir /tmp/x", "ls"]
        );
    }
}
