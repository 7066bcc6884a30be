//! boot_params as a kernel entered through the 64-bit boot protocol reads it
//! (kernel/src/boot.rs): libs/bootparam's ZeroPage (e820 table, command line,
//! initrd, RSDP), the setup_data walk with its SETUP_E820_EXT entries and
//! hand-over buffer nodes (each then judged by HandoverBuffer::check), the
//! TSC frequency nodes (HandedTsc: the first one counts, as in the kernel), and the
//! owning parse_boot_params over the same memory.
//! Input: `[u64 LE base][memory]`, the memory at physical `base`, the zero
//! page at its start (zero-filled to 4096 bytes if shorter, as the page read
//! would be).
#![no_main]

use bootparam::tsc::{HandedTsc, TscRefusal, PLAUSIBLE_TSC_KHZ};
use bootparam::{parse_boot_params, HandoverBuffer, ZeroPage, BOOT_PARAMS_SIZE, MAX_SETUP_DATA_NODES};
use kexos_fuzz::FlatMemory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(mem) = FlatMemory::from_input(data) else { return };
    let mut page = [0u8; BOOT_PARAMS_SIZE];
    let n = mem.bytes.len().min(BOOT_PARAMS_SIZE);
    page[..n].copy_from_slice(&mem.bytes[..n]);
    let read = |pa: u64, buf: &mut [u8]| mem.read(pa, buf);

    let zp = ZeroPage::new(&page).expect("a whole page is a zero page");
    let mut ram: Vec<(u64, u64)> = Vec::new();
    let mut e820 = Vec::new();
    if let Ok(table) = zp.e820_table() {
        for e in table {
            e820.push(e);
            if e.typ == bootparam::e820_type::E820_RAM {
                if let Some(end) = e.addr.checked_add(e.size) {
                    ram.push((e.addr, end));
                }
            }
        }
    }
    let mut in_use = vec![(mem.base, mem.base.saturating_add(BOOT_PARAMS_SIZE as u64))];
    let mut buffers = Vec::new();
    let mut nodes = 0;
    let mut tsc = HandedTsc::default();
    for node in zp.setup_data(read) {
        let Ok(node) = node else { break };
        nodes += 1;
        assert!(nodes <= MAX_SETUP_DATA_NODES, "walked past the node limit");
        assert!(node.pa < node.end());
        in_use.push((node.pa, node.end()));
        if let Ok(Some(b)) = HandoverBuffer::from_setup_data(&node, read) {
            buffers.push(b);
        }
        tsc.note(&node, read);
        if node.typ == bootparam::setup_type::SETUP_E820_EXT {
            if let Ok(entries) = node.e820_entries(read) {
                for e in entries.map_while(Result::ok) {
                    e820.push(e);
                }
            }
        }
    }
    if let Some((pa, len)) = zp.cmdline(read) {
        assert!(len <= zp.cmdline_max_len());
        let mut text = vec![0u8; len as usize];
        assert!(len == 0 || mem.read(pa, &mut text), "cmdline() counted unreadable bytes");
    }
    let _ = (zp.ramdisk(), zp.acpi_rsdp(), zp.sentinel_set());
    // A frequency is used if and only if it is plausible; no node, no later ones.
    match tsc.khz() {
        Ok(Some(khz)) => assert!(PLAUSIBLE_TSC_KHZ.contains(&khz)),
        Ok(None) => assert_eq!(tsc.later(), 0),
        Err(TscRefusal::Implausible(khz)) => assert!(!PLAUSIBLE_TSC_KHZ.contains(&khz)),
        Err(TscRefusal::Malformed(_)) => {}
    }
    let in_ram = |s: u64, e: u64| ram.iter().any(|&(a, b)| a <= s && e <= b);
    for b in &buffers {
        if b.check(in_ram, &in_use).is_ok() {
            in_use.push((b.addr, b.end().expect("checked")));
        }
    }

    match parse_boot_params(&page, read) {
        Ok(p) => {
            // The owning parser and the kernel's own walk see the same.
            assert_eq!(p.setup_data.len(), nodes);
            assert_eq!(p.e820, e820);
            assert_eq!((p.cmdline_pa, p.ramdisk, p.acpi_rsdp), (zp.cmdline_pa(), zp.ramdisk(), zp.acpi_rsdp()));
            let mut again = HandedTsc::default();
            for n in &p.setup_data {
                again.note(n, read);
            }
            assert_eq!(again, tsc, "TSC nodes");
            let found = HandoverBuffer::find_all(&p.setup_data, read);
            if kexos_fuzz::verbose() {
                eprintln!("kexos-fuzz: boot_params: {} e820 entries, setup_data {:?}, hand-over {:?}", p.e820.len(), p.setup_data.iter().map(|n| n.typ).collect::<Vec<_>>(), found);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            if kexos_fuzz::verbose() {
                eprintln!("kexos-fuzz: boot_params: {msg}");
            }
        }
    }
});
