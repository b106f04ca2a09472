//! The process's allocator: jemalloc, built with an 8-byte quantum (`.cargo/config.toml`), as
//! Redis builds it. A small value rounds up to the next multiple of 8 instead of 16 — a 3-field
//! hash's 39-byte listpack takes 40 bytes, not 48.
//!
//! With that quantum plain `malloc` guarantees only 8-byte alignment, while tikv-jemallocator
//! assumes 16 on x86_64; so every request aligned above 8 names its alignment to jemalloc here.

use std::alloc::{GlobalAlloc, Layout};
use std::os::raw::{c_int, c_void};
use tikv_jemalloc_sys as je;

pub struct Jemalloc8;

/// jemalloc's flags for `layout`: none when the quantum already guarantees its alignment.
fn flags(layout: &Layout) -> c_int {
    if layout.align() <= 8 && layout.align() <= layout.size() {
        0
    } else {
        je::MALLOCX_ALIGN(layout.align())
    }
}

// SAFETY: each call forwards to jemalloc's `*allocx` family with the same flags for a given
// layout, which is what jemalloc requires to size and free the block; alignment comes either
// from the 8-byte quantum (align <= 8) or from MALLOCX_ALIGN.
unsafe impl GlobalAlloc for Jemalloc8 {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        je::mallocx(layout.size(), flags(&layout)).cast()
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        je::mallocx(layout.size(), flags(&layout) | je::MALLOCX_ZERO).cast()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        je::sdallocx(ptr.cast::<c_void>(), layout.size(), flags(&layout))
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        je::rallocx(ptr.cast::<c_void>(), new_size, flags(&layout)).cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_kept_for_every_request() {
        let a = Jemalloc8;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 8, 24, 40, 48, 100, 5000] {
                let l = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; each block is freed with its own layout.
                unsafe {
                    let p = a.alloc(l);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let q = a.realloc(p, l, size * 3);
                    assert_eq!(q as usize % align, 0);
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                }
            }
        }
    }
}
