//! Lexical path handling.

use alloc::string::String;
use alloc::vec::Vec;

use abi::fs::{NAME_MAX, PATH_MAX};
use abi::Errno;

/// Join `path` onto `cwd` (when relative) and resolve `.`, `..` and repeated
/// slashes lexically: the result is absolute, starts with `/` and has no
/// trailing slash (except `/` itself). `..` at the root stays at the root.
///
/// Errors: `ENOENT` for an empty `path`; `ENAMETOOLONG` when `path` or the
/// result reaches [`PATH_MAX`] bytes or a component exceeds [`NAME_MAX`].
///
/// Being lexical, `a/..` does not look at whether `a` is a symlink.
pub fn normalize(cwd: &str, path: &str) -> Result<String, Errno> {
    check(path)?;
    let mut parts: Vec<&str> = Vec::new();
    let base = if path.starts_with('/') { "" } else { cwd };
    for comp in base.split('/').chain(path.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c if c.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
            c => parts.push(c),
        }
    }
    let mut out = String::new();
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(out)
}

/// Reject an empty path (`ENOENT`) or one of [`PATH_MAX`] bytes or more
/// (`ENAMETOOLONG`), as the kernel's getname does.
pub fn check(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        Err(Errno::ENOENT)
    } else if path.len() >= PATH_MAX {
        Err(Errno::ENAMETOOLONG)
    } else {
        Ok(())
    }
}

/// Split into (parent directory, last component), ignoring trailing slashes:
/// `/a/b` -> (`/a`, `b`), `/a` -> (`/`, `a`), `/` -> (`/`, ``),
/// `b` -> (`.`, `b`).
pub fn split_parent(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        let parent = if path.starts_with('/') { "/" } else { "." };
        return (parent, "");
    }
    match trimmed.rfind('/') {
        None => (".", trimmed),
        Some(i) => {
            let parent = trimmed.get(..i).unwrap_or("").trim_end_matches('/');
            let name = trimmed.get(i + 1..).unwrap_or("");
            (if parent.is_empty() { "/" } else { parent }, name)
        }
    }
}

/// The components of `path` (empty ones and `.` removed).
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn n(cwd: &str, p: &str) -> String {
        normalize(cwd, p).unwrap()
    }

    #[test]
    fn normalize_cases() {
        assert_eq!(n("/", "/"), "/");
        assert_eq!(n("/", "a"), "/a");
        assert_eq!(n("/tmp", "a/b"), "/tmp/a/b");
        assert_eq!(n("/tmp/", "./a//b/"), "/tmp/a/b");
        assert_eq!(n("/tmp", "/etc/../bin/./sh"), "/bin/sh");
        assert_eq!(n("/tmp", ".."), "/");
        assert_eq!(n("/", "../../.."), "/");
        assert_eq!(n("/a/b", "../../../c"), "/c");
        assert_eq!(n("/a", "."), "/a");
        assert_eq!(n("/a", "//x///y"), "/x/y");
        assert_eq!(n("/", "..."), "/...");
    }

    #[test]
    fn normalize_errors() {
        assert_eq!(normalize("/", ""), Err(Errno::ENOENT));
        let long = "a".repeat(256);
        assert_eq!(normalize("/", &long), Err(Errno::ENAMETOOLONG));
        assert_eq!(n("/", &"a".repeat(255)).len(), 256);
        let huge = "/ab".repeat(1400);
        assert_eq!(normalize("/", &huge), Err(Errno::ENAMETOOLONG));
        // A short relative path onto a long cwd can also be too long.
        let cwd = "/abcdefgh".repeat(455); // 4095 bytes
        assert_eq!(normalize(&cwd, "x"), Err(Errno::ENAMETOOLONG));
        // but ".." shrinking it back is fine.
        assert_eq!(normalize(&cwd, "..").unwrap().len(), 4086);
        assert_eq!(check(&"x".repeat(4095)), Ok(()));
        assert_eq!(check(&"x".repeat(4096)), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn split() {
        assert_eq!(split_parent("/a/b"), ("/a", "b"));
        assert_eq!(split_parent("/a"), ("/", "a"));
        assert_eq!(split_parent("/"), ("/", ""));
        assert_eq!(split_parent("//"), ("/", ""));
        assert_eq!(split_parent("/a/b/"), ("/a", "b"));
        assert_eq!(split_parent("/a//b"), ("/a", "b"));
        assert_eq!(split_parent("b"), (".", "b"));
        assert_eq!(split_parent("a/b"), ("a", "b"));
        assert_eq!(split_parent(""), (".", ""));
    }

    #[test]
    fn comps() {
        let v: Vec<_> = components("/a/./b//c/").map(|s| s.to_string()).collect();
        assert_eq!(v, ["a", "b", "c"]);
    }
}
