//! GDT and TSS. Selector order is fixed by `syscall`/`sysret` (STAR MSR):
//! kernel code, kernel data, then user data, user code (Intel SDM vol. 2B, SYSRET).

use spin::Lazy;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

use super::stack::FAULT_STACK;

/// IST slot used by the double-fault handler.
pub const DOUBLE_FAULT_IST: u16 = 0;

pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

static TSS: Lazy<TaskStateSegment> = Lazy::new(|| {
    let mut tss = TaskStateSegment::new();
    // Ring 3 -> ring 0 transitions (interrupts, exceptions) land on the kernel stack.
    tss.privilege_stack_table[0] = VirtAddr::new(super::stack::kernel_stack_top());
    tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] = VirtAddr::new(FAULT_STACK.top());
    tss
});

/// The descriptors, in the order SYSRET fixes, with `tss` last: every CPU's
/// GDT is built here, so the selectors are the same on all of them.
fn build(tss: &'static TaskStateSegment) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    let tss = gdt.append(Descriptor::tss_segment(tss));
    (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
}

static GDT: Lazy<(GlobalDescriptorTable, Selectors)> = Lazy::new(|| build(&TSS));

pub fn selectors() -> &'static Selectors {
    &GDT.1
}

pub fn init() {
    load(&GDT.0);
}

/// The helper CPU's TSS: its own double-fault stack (a TSS is busy while
/// loaded, so each CPU needs one). It never enters ring 3, so RSP0 is unused.
static HELPER_TSS: Lazy<TaskStateSegment> = Lazy::new(|| {
    let mut tss = TaskStateSegment::new();
    tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] = VirtAddr::new(super::smp::HELPER_FAULT_STACK.top());
    tss
});

/// The helper CPU's GDT: the boot CPU's layout with [`HELPER_TSS`].
static HELPER_GDT: Lazy<(GlobalDescriptorTable, Selectors)> = Lazy::new(|| build(&HELPER_TSS));

/// On the helper CPU.
pub fn init_helper() {
    load(&HELPER_GDT.0);
}

fn load(gdt: &'static GlobalDescriptorTable) {
    gdt.load();
    let s = selectors();
    // SAFETY: the selectors index valid descriptors of the GDT just loaded.
    unsafe {
        CS::set_reg(s.kernel_code);
        SS::set_reg(s.kernel_data);
        DS::set_reg(s.kernel_data);
        ES::set_reg(s.kernel_data);
        load_tss(s.tss);
    }
}
