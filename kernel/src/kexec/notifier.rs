//! Reboot notifiers: code that must run right before the machine is handed
//! to another kernel or reset (Linux's reboot_notifier_list). Hand-over
//! buffers (the 2016 series: kexec_update_segment from a notifier) hook in
//! here. Notifiers run in priority order, highest first.

use spin::Mutex;

pub type Notifier = fn();

/// The kernel's notifiers, in the order they run. IMA writes its list
/// after every other subsystem (as Linux's ima_update_kexec_buffer, at the
/// lowest priority), so no event is missed.
pub const IMA: i32 = i32::MIN + 2;
/// The log is copied for /proc/last_kmsg after IMA's, so it holds IMA's
/// report of what it passed on.
pub const LAST_KMSG: i32 = i32::MIN + 1;
/// The `kexec_test` hook that corrupts a segment after everything wrote it.
pub const TEST_CORRUPT: i32 = i32::MIN;

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
