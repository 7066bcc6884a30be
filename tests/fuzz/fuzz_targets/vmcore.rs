//! /proc/vmcore as a capture kernel builds it (libs/elfcore
//! `Vmcore::from_old_memory`: the first kernel's ELF core header, its program
//! headers and PT_NOTE segments read from old memory, the notes merged, the
//! PT_LOADs laid out), then reads of the file it serves: the header and notes
//! whole, the start and end of every PT_LOAD (which must be the old memory at
//! the first kernel's p_offset), the registers and VMCOREINFO.
//! Input: `[u64 LE base][old memory]`; `elfcorehdr=` is `base`.
#![no_main]

use elfcore::Vmcore;
use kexos_fuzz::FlatMemory;
use libfuzzer_sys::fuzz_target;

fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some(mem) = FlatMemory::from_input(data) else { return };
    let core = match Vmcore::from_old_memory(mem.base, &mem) {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string();
            if kexos_fuzz::verbose() {
                eprintln!("kexos-fuzz: vmcore: {} {msg}", e.errno().name());
            }
            return;
        }
    };
    if kexos_fuzz::verbose() {
        eprintln!("kexos-fuzz: vmcore: {} bytes, {} loads, prstatus {:?}, vmcoreinfo {:?}", core.size(), core.loads(), core.prstatus().map(|p| p.0), core.vmcoreinfo());
    }
    let size = core.size();
    let _ = (core.ram_bytes(), core.loads(), core.notes_bytes().len(), core.prstatus(), core.vmcoreinfo());
    let _ = core.phys_ranges().count();
    // What kernel/src/crash/vmcore.rs counts: the CPUs' NT_PRSTATUS notes.
    let _ = elfcore::notes(core.notes_bytes()).filter(|&(name, ty, _)| name == b"CORE" && ty == elfcore::NT_PRSTATUS).count();
    let mut buf = vec![0u8; 4096];
    let read = |off: u64, buf: &mut [u8]| match core.read_at(off, buf, &mem) {
        Ok(n) => {
            assert!(n <= buf.len());
            assert!(off >= size || buf.is_empty() || n > 0, "empty read at {off} < {size}");
            n
        }
        Err(e) => {
            let _ = (e.errno(), e.to_string());
            0
        }
    };
    // The header part, as a reader of /proc/vmcore starts.
    let n = read(0, &mut buf);
    // Its program headers say where each PT_LOAD's data starts.
    let phnum = if n >= 64 { usize::from(u16::from_le_bytes([buf[56], buf[57]])) } else { 0 };
    let mut offsets = vec![size.saturating_sub(4096), size.saturating_sub(1), size];
    let mut hdrs = vec![0u8; 64 + 56 * phnum];
    let served_loads: Vec<[u64; 3]> = if read(0, &mut hdrs) == hdrs.len() {
        hdrs[64..].as_chunks::<56>().0.iter().filter(|ph| ph[..4] == [1, 0, 0, 0]).map(|ph| [word(ph, 8), word(ph, 32), word(ph, 40)]).collect()
    } else {
        Vec::new()
    };
    // The first kernel's PT_LOADs, in the same order: each is served from old
    // memory at its original p_offset (Linux's vmcore: p_offset is the physical
    // address), for p_memsz bytes.
    let mut ehdr = [0u8; 64];
    let orig_loads: Vec<[u64; 2]> = if mem.read(mem.base, &mut ehdr) {
        let (phoff, count) = (word(&ehdr, 32), usize::from(u16::from_le_bytes([ehdr[56], ehdr[57]])));
        let mut raw = vec![0u8; 56 * count];
        assert!(mem.base.checked_add(phoff).is_some_and(|at| mem.read(at, &mut raw)));
        raw.as_chunks::<56>().0.iter().filter(|ph| ph[..4] == [1, 0, 0, 0]).map(|ph| [word(ph, 8), word(ph, 40)]).collect()
    } else {
        Vec::new()
    };
    assert_eq!(served_loads.len(), orig_loads.len(), "PT_LOADs lost or added");
    for (&[off, filesz, memsz], &[phys, orig_memsz]) in served_loads.iter().zip(&orig_loads) {
        assert_eq!(memsz, orig_memsz);
        offsets.push(off);
        offsets.push(off.saturating_add(filesz).saturating_sub(100));
        let mut served = vec![0u8; memsz.min(256) as usize];
        let n = read(off, &mut served);
        let mut old = vec![0u8; n];
        if mem.read(phys, &mut old) {
            assert_eq!(&served[..n], &old[..], "PT_LOAD at file offset {off:#x} does not serve old memory at {phys:#x}");
        }
    }
    for off in offsets {
        read(off, &mut buf);
        read(off, &mut buf[..1]);
    }
});
