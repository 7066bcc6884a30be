//! The cpio newc/crc reader (libs/cpio `entries`), as the initramfs unpacker
//! and the shell's tools drive it: every member until the first error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut it = cpio::entries(data);
    let mut last = 0;
    while let Some(e) = it.next() {
        match e {
            Ok(e) => {
                let _ = (e.file_type(), e.permissions(), e.is_dir(), e.is_file(), e.is_symlink());
                let _ = (e.name.len(), e.ino, e.uid, e.gid, e.nlink, e.mtime);
                // Borrowed from the archive, never past its end.
                let (d, a) = (e.data.as_ptr() as usize, data.as_ptr() as usize);
                assert!(d >= a && d + e.data.len() <= a + data.len());
            }
            Err(err) => {
                let _ = (err.errno(), err.to_string());
                break;
            }
        }
        let at = it.offset();
        assert!(at >= last && at <= data.len(), "offset {at} after {last}, len {}", data.len());
        last = at;
    }
});
