//! Reading bytes back from the guest: `hexdump -C` output parsed on the host.

use anyhow::{Context, Result};

/// Parses `hexdump -C` output (util-linux/busybox canonical format, as kexos's `hexdump`
/// prints it): `%08x  xx xx ...  |ascii|` lines, `*` for lines equal to the previous one, and a
/// final line with the end offset. Returns (first offset, bytes).
pub fn parse_hexdump(text: &str) -> Result<(u64, Vec<u8>)> {
    let mut start = None;
    let mut out: Vec<u8> = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    let mut squeezed = false;
    for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        if line == "*" {
            squeezed = true;
            continue;
        }
        let (off, rest) = line.split_once(' ').unwrap_or((line, ""));
        let off = u64::from_str_radix(off, 16).with_context(|| format!("hexdump line {line:?}"))?;
        let base = *start.get_or_insert(off);
        if squeezed {
            while base + (out.len() as u64) < off {
                out.extend_from_slice(&prev);
            }
            squeezed = false;
        }
        anyhow::ensure!(
            base + out.len() as u64 == off,
            "hexdump offset {off:#x} out of order"
        );
        let hex = rest.split('|').next().unwrap_or("");
        let bytes = hex
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16))
            .collect::<Result<Vec<u8>, _>>()
            .with_context(|| format!("hexdump line {line:?}"))?;
        out.extend_from_slice(&bytes);
        if !bytes.is_empty() {
            prev = bytes;
        }
    }
    Ok((start.unwrap_or(0), out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_parse_squeezed() {
        let text = "00000010  7f 45 4c 46 00 00 00 00  00 00 00 00 00 00 00 00  |.ELF............|\n\
                    00000020  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
                    *\n\
                    00000050  01 02 03                                          |...|\n\
                    00000053\n";
        let (start, bytes) = parse_hexdump(text).unwrap();
        assert_eq!(start, 0x10);
        assert_eq!(bytes.len(), 0x43);
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert!(bytes[16..0x40].iter().all(|&b| b == 0));
        assert_eq!(&bytes[0x40..], [1, 2, 3]);
    }
}
