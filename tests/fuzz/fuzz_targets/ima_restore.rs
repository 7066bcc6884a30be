//! The IMA measurement list a previous kernel handed over (libs/ima
//! `restore`, ima_restore_measurement_list's rules), as the kernel restores
//! it at boot; a restored list is then shown (ascii and binary views) and
//! dumped again, which must restore to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let entries = match ima::restore(data) {
        Ok(e) => e,
        Err(e) => {
            let msg = e.to_string();
            if kexos_fuzz::verbose() {
                eprintln!("kexos-fuzz: ima: {msg}");
            }
            return;
        }
    };
    if kexos_fuzz::verbose() {
        eprintln!("kexos-fuzz: ima: {} entries restored", entries.len());
    }
    let mut list = ima::MeasurementList::default();
    for e in &entries {
        let _ = (e.ascii(), e.template_data_len(), e.binary_len());
        list.add(e.clone());
    }
    let _ = (list.ascii(), list.binary(), list.binary_size());
    let dump = ima::dump(&entries, usize::MAX);
    assert_eq!(dump.written, entries.len());
    assert_eq!(ima::restore(&dump.bytes).expect("a dump restores"), entries);
});
