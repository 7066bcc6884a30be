//! Reboot notifiers: code that must run right before the machine is handed
//! to another kernel or reset (Linux's reboot_notifier_list). Hand-over
//! buffers (the 2016 series: kexec_update_segment from a notifier) hook in
//! here. Notifiers run in priority order, highest first.

use spin::Mutex;

pub type Notifier = fn();

const MAX: usize = 16;

static LIST: Mutex<[(i32, Option<Notifier>); MAX]> = Mutex::new([(0, None); MAX]);

/// Register `f` with `priority`; false when the table is full.
pub fn register_reboot_notifier(priority: i32, f: Notifier) -> bool {
    let mut list = LIST.lock();
    match list.iter_mut().find(|(_, n)| n.is_none()) {
        Some(slot) => {
            *slot = (priority, Some(f));
            true
        }
        None => false,
    }
}

pub fn run_reboot_notifiers() {
    let mut list = *LIST.lock();
    list.sort_by_key(|&(priority, _)| core::cmp::Reverse(priority));
    let mut count = 0;
    for f in list.iter().filter_map(|(_, n)| *n) {
        f();
        count += 1;
    }
    info!("kexec: {} reboot notifiers run", count);
}
