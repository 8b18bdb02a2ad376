//! The wasm module's allocator: power-of-two size classes, one free list
//! each, carved from pages that `memory.grow` adds.
//!
//! Why not std's dlmalloc: it was the largest single item of the module
//! (about 8 KB of code). The client allocates small, short-lived values (a
//! frame's text, a few routing fields, action lists) from one thread, so a
//! size-class free list does the job in a few hundred bytes. The trade-off:
//! a block is rounded up to a power of two (at most 2x the request) and
//! freed blocks are reused only for their own class, so memory stays at the
//! peak use of each class; nothing is ever returned to the browser (wasm
//! memory cannot shrink anyway).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Bytes in one wasm page. 65 536.
pub const PAGE: usize = 65_536;
/// Largest alignment served, in bytes; larger requests get null. 4 096.
pub const MAX_ALIGN: usize = 4_096;
/// Smallest block in bytes (room for the free-list link). 8.
pub const MIN_BLOCK: usize = 8;

/// Where fresh memory comes from.
pub trait Grow {
    /// Add `pages` pages of [`PAGE`] bytes; the address of the first, or
    /// `None` when memory cannot grow.
    fn grow(&mut self, pages: usize) -> Option<usize>;
}

/// The allocator's state; see the module docs.
pub struct Classes<G> {
    /// Head of each class's free list (0 = empty); class `i` holds `2^i` bytes.
    free: [usize; usize::BITS as usize],
    /// Next unused address of the current region.
    bump: usize,
    /// End of the current region.
    end: usize,
    grow: G,
}

fn class(layout: Layout) -> Option<usize> {
    if layout.align() > MAX_ALIGN {
        return None;
    }
    let size = layout.size().max(layout.align()).max(MIN_BLOCK);
    size.checked_next_power_of_two()
        .map(|s| s.trailing_zeros() as usize)
}

impl<G: Grow> Classes<G> {
    /// An empty allocator drawing pages from `grow`.
    pub const fn new(grow: G) -> Self {
        Classes {
            free: [0; usize::BITS as usize],
            bump: 0,
            end: 0,
            grow,
        }
    }

    /// A block for `layout`, or null.
    ///
    /// # Safety
    /// Memory handed out by `grow` must be valid, writable and unused.
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(i) = class(layout) else {
            return ptr::null_mut();
        };
        let head = self.free[i];
        if head != 0 {
            // SAFETY: a free block's first word holds the next link.
            self.free[i] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << i;
        // Aligning every block to its size (up to MAX_ALIGN) lets a freed
        // block serve any later request of its class, whatever its alignment.
        let align = size.min(MAX_ALIGN);
        let mut start = (self.bump + align - 1) & !(align - 1);
        if self.bump == 0 || start.checked_add(size).is_none_or(|e| e > self.end) {
            let Some(pages) = size.checked_add(align).map(|n| n.div_ceil(PAGE)) else {
                return ptr::null_mut();
            };
            let Some(base) = self.grow.grow(pages) else {
                return ptr::null_mut();
            };
            if base != self.end || self.bump == 0 {
                // Not contiguous with the current region: the rest of it is
                // abandoned (only happens if someone else grows memory).
                self.bump = base;
            }
            self.end = base + pages * PAGE;
            start = (self.bump + align - 1) & !(align - 1);
        }
        self.bump = start + size;
        start as *mut u8
    }

    /// Return a block obtained from [`Classes::alloc`] with the same `layout`.
    ///
    /// # Safety
    /// `block` must come from this allocator with `layout`, and not be used again.
    pub unsafe fn dealloc(&mut self, block: *mut u8, layout: Layout) {
        if let Some(i) = class(layout) {
            // SAFETY: the block is at least MIN_BLOCK bytes and word-aligned.
            unsafe { *(block as *mut usize) = self.free[i] };
            self.free[i] = block as usize;
        }
    }

    /// Resize `block`: the same block when the class does not change.
    ///
    /// # Safety
    /// As [`Classes::dealloc`] for `block` and `layout`.
    pub unsafe fn realloc(&mut self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        if class(new) == class(layout) {
            return block;
        }
        // SAFETY: forwarded from the caller; the two blocks are distinct.
        unsafe {
            let moved = self.alloc(new);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

/// Pages from the module's own memory (`memory.grow` on memory 0).
pub struct WasmMemory;

impl Grow for WasmMemory {
    #[cfg(target_arch = "wasm32")]
    fn grow(&mut self, pages: usize) -> Option<usize> {
        let previous = core::arch::wasm32::memory_grow(0, pages);
        (previous != usize::MAX).then(|| previous * PAGE)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn grow(&mut self, _pages: usize) -> Option<usize> {
        None
    }
}

/// The global allocator of the wasm module.
pub struct Heap(UnsafeCell<Classes<WasmMemory>>);

impl Heap {
    /// An empty heap; memory comes on the first allocation.
    pub const fn new() -> Self {
        Heap(UnsafeCell::new(Classes::new(WasmMemory)))
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: wasm32-unknown-unknown without the atomics feature runs one
// thread, so the state is never touched concurrently; the allocator never
// calls back into itself.
unsafe impl Sync for Heap {}

// SAFETY: blocks are distinct, aligned as requested and at least as large as
// requested (see `Classes`).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).alloc(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(block, layout, new_size) }
    }
}

#[cfg(test)]
#[path = "heap_tests.rs"]
mod tests;
