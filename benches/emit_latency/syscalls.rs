//! System calls made by the calling thread, counted by the kernel.

// System calls made by the calling thread, counted by the kernel: a
// per-thread perf counter on the `raw_syscalls:sys_enter` tracepoint with a
// filter that leaves out (clock_)nanosleep, the pacing sleep. Needs
// perf_event_open permission (root, CAP_PERFMON, or a low
// kernel.perf_event_paranoid) and tracefs; otherwise reported as n/a.

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod perf {
    use std::ffi::{c_int, c_long, c_ulong, c_void};

    extern "C" {
        fn syscall(number: c_long, ...) -> c_long;
        fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
        fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
        fn close(fd: c_int) -> c_int;
    }

    #[cfg(target_arch = "x86_64")]
    const SYS_PERF_EVENT_OPEN: c_long = 298;
    /// nanosleep = 35, clock_nanosleep = 230.
    #[cfg(target_arch = "x86_64")]
    const NOT_SLEEP: &[u8] = b"id != 35 && id != 230\0";
    #[cfg(target_arch = "aarch64")]
    const SYS_PERF_EVENT_OPEN: c_long = 241;
    /// nanosleep = 101, clock_nanosleep = 115.
    #[cfg(target_arch = "aarch64")]
    const NOT_SLEEP: &[u8] = b"id != 101 && id != 115\0";

    const PERF_TYPE_TRACEPOINT: u64 = 2;
    const PERF_FLAG_FD_CLOEXEC: c_ulong = 8;
    /// _IOW('$', 6, char *)
    const PERF_EVENT_IOC_SET_FILTER: c_ulong = 0x4008_2406;

    /// A running count of this thread's system calls (sleeps excluded).
    pub struct Counter {
        fd: c_int,
        /// What a read right after a read shows: the read itself.
        baseline: u64,
    }

    impl Counter {
        /// Opens a counter for the calling thread, or `None` if the kernel
        /// does not allow it.
        pub fn open() -> Option<Counter> {
            let id: u64 = [
                "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
            ]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())?
            .trim()
            .parse()
            .ok()?;
            // struct perf_event_attr, PERF_ATTR_SIZE_VER7 (128 bytes): type
            // and size, config, then zeros (counting, enabled, this thread
            // only, kernel events included).
            let mut attr = [0u64; 16];
            attr[0] = PERF_TYPE_TRACEPOINT | (128 << 32);
            attr[1] = id;
            // SAFETY: perf_event_open(&attr, pid 0 = this thread, cpu -1 =
            // any, group -1, flags); attr is a valid, fully initialised
            // 128-byte perf_event_attr that outlives the call.
            let (this_thread, any_cpu, no_group): (c_long, c_long, c_long) = (0, -1, -1);
            // SAFETY: see above.
            let fd = unsafe {
                syscall(
                    SYS_PERF_EVENT_OPEN,
                    attr.as_ptr(),
                    this_thread,
                    any_cpu,
                    no_group,
                    PERF_FLAG_FD_CLOEXEC,
                )
            };
            if fd < 0 {
                return None;
            }
            let fd = fd as c_int;
            // SAFETY: fd is our perf fd; the filter is NUL-terminated.
            if unsafe { ioctl(fd, PERF_EVENT_IOC_SET_FILTER, NOT_SLEEP.as_ptr()) } != 0 {
                // SAFETY: closing the fd we opened.
                unsafe { close(fd) };
                return None;
            }
            let mut counter = Counter { fd, baseline: 0 };
            let a = counter.raw()?;
            let b = counter.raw()?;
            counter.baseline = b - a;
            Some(counter)
        }

        fn raw(&self) -> Option<u64> {
            let mut value = 0u64;
            // SAFETY: reading 8 bytes (read_format 0: the count) into a u64.
            let n = unsafe { read(self.fd, (&raw mut value).cast::<c_void>(), 8) };
            (n == 8).then_some(value)
        }

        /// The count now (includes the reads themselves; see `since`).
        pub fn now(&self) -> u64 {
            self.raw().unwrap_or(0)
        }

        /// System calls between a `now()` and this call, excluding the
        /// counter's own read.
        pub fn since(&self, start: u64) -> u64 {
            self.now()
                .saturating_sub(start)
                .saturating_sub(self.baseline)
        }
    }

    impl Drop for Counter {
        fn drop(&mut self) {
            // SAFETY: closing the fd we opened, once.
            unsafe { close(self.fd) };
        }
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod perf {
    pub struct Counter;
    impl Counter {
        pub fn open() -> Option<Counter> {
            None
        }
        pub fn now(&self) -> u64 {
            0
        }
        pub fn since(&self, _start: u64) -> u64 {
            0
        }
    }
}

/// Off with `--no-syscall-count`: the per-thread perf event adds kernel
/// work to every context switch, which can itself cool the caches a paced
/// call finds on waking.
pub static COUNT_SYSCALLS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

pub fn syscall_counter() -> Option<perf::Counter> {
    if COUNT_SYSCALLS.load(std::sync::atomic::Ordering::Relaxed) {
        perf::Counter::open()
    } else {
        None
    }
}
