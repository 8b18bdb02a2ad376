//! The wasm module's allocator: power-of-two size classes, one free list
//! each, carved from pages that `memory.grow` adds.
//!
//! Why a hand-written one: it is smaller than std's dlmalloc and than the
//! maintained small allocators measured against it (talc, lol_alloc; the
//! numbers and the comparison are in `bench/README.md`). The client
//! allocates small, short-lived values (a frame's text, a few routing
//! fields, action lists) from one thread, so a size-class free list does
//! the job. The trade-off: a block is rounded up to a power of two (at most
//! 2x the request) and freed blocks are reused only for their own class, so
//! memory stays at the peak use of each class; nothing is ever returned to
//! the browser (wasm memory cannot shrink anyway).
//!
//! Soundness rests on three rules the types enforce: [`Heap`] is `Sync` only
//! on single-threaded wasm32 (no `atomics` target feature, so one thread
//! ever runs the module), it cannot be built outside this crate (the one
//! instance is the crate's `#[global_allocator]`), and address arithmetic
//! is checked, so a request near the top of the address space gets null
//! instead of a wrapped address. The tests run under Miri
//! (`scripts/test.sh`, where a nightly toolchain is installed).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

/// Bytes in one wasm page. 65 536.
pub const PAGE: usize = 65_536;
/// Largest alignment served, in bytes; larger requests get null. 4 096.
pub const MAX_ALIGN: usize = 4_096;
/// Smallest block in bytes (room for the free-list link). 8.
pub const MIN_BLOCK: usize = 8;

// A free block holds the link to the next one.
const _: () = assert!(MIN_BLOCK >= size_of::<*mut u8>() && MIN_BLOCK >= align_of::<*mut u8>());

/// Where fresh memory comes from.
pub trait Grow {
    /// Add `pages` pages of [`PAGE`] bytes; a pointer to the first byte
    /// (valid for `pages * PAGE` bytes), or `None` when memory cannot grow.
    fn grow(&mut self, pages: usize) -> Option<*mut u8>;
}

/// The allocator's state; see the module docs.
pub struct Classes<G> {
    /// Head of each class's free list (null = empty); class `i` holds `2^i` bytes.
    free: [*mut u8; usize::BITS as usize],
    /// Next unused byte of the current region; null before the first growth.
    bump: *mut u8,
    /// Address just past the current region, or `usize::MAX` when the region
    /// reaches the top of the address space.
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
            free: [ptr::null_mut(); usize::BITS as usize],
            bump: ptr::null_mut(),
            end: 0,
            grow,
        }
    }

    /// A block for `layout`, or null (alignment above [`MAX_ALIGN`], memory
    /// exhausted, or the block would pass the top of the address space).
    ///
    /// # Safety
    /// Memory handed out by `grow` must be valid, writable and unused.
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(i) = class(layout) else {
            return ptr::null_mut();
        };
        let head = self.free[i];
        if !head.is_null() {
            // SAFETY: a free block's first word holds the next link.
            self.free[i] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = 1usize << i;
        // Aligning every block to its size (up to MAX_ALIGN) lets a freed
        // block serve any later request of its class, whatever its alignment.
        let align = size.min(MAX_ALIGN);
        let block = self.carve(size, align);
        if !block.is_null() {
            return block;
        }
        let Some(pages) = size.checked_add(align).map(|n| n.div_ceil(PAGE)) else {
            return ptr::null_mut();
        };
        let Some(base) = self.grow.grow(pages) else {
            return ptr::null_mut();
        };
        if self.bump.is_null() || base.addr() != self.end {
            // Not contiguous with the current region: the rest of it is
            // abandoned (only happens if someone else grows memory).
            self.bump = base;
        }
        self.end = base.addr().saturating_add(pages.saturating_mul(PAGE));
        // Null only when the block would pass the top of the address space.
        self.carve(size, align)
    }

    /// The next `size` bytes of the current region at an `align` boundary,
    /// or null when they do not fit in it.
    fn carve(&mut self, size: usize, align: usize) -> *mut u8 {
        if self.bump.is_null() {
            return ptr::null_mut();
        }
        let Some(start) = self.bump.addr().checked_add(align - 1) else {
            return ptr::null_mut();
        };
        let start = start & !(align - 1);
        match start.checked_add(size) {
            Some(next) if next <= self.end => {
                let block = self.bump.with_addr(start);
                self.bump = self.bump.with_addr(next);
                block
            }
            _ => ptr::null_mut(),
        }
    }

    /// Return a block obtained from [`Classes::alloc`] with the same `layout`.
    ///
    /// # Safety
    /// `block` must come from this allocator with `layout`, and not be used again.
    pub unsafe fn dealloc(&mut self, block: *mut u8, layout: Layout) {
        if let Some(i) = class(layout) {
            // SAFETY: the block is at least MIN_BLOCK bytes and aligned to
            // at least MIN_BLOCK, which holds a pointer (checked above).
            unsafe { block.cast::<*mut u8>().write(self.free[i]) };
            self.free[i] = block;
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

/// Pages from the module's own memory (`memory.grow` on memory 0); never
/// any on other targets.
pub struct WasmMemory;

impl Grow for WasmMemory {
    #[cfg(target_arch = "wasm32")]
    fn grow(&mut self, pages: usize) -> Option<*mut u8> {
        let previous = core::arch::wasm32::memory_grow(0, pages);
        // Linear memory has no Rust provenance to keep: exposed it is.
        (previous != usize::MAX).then(|| ptr::with_exposed_provenance_mut(previous * PAGE))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn grow(&mut self, _pages: usize) -> Option<*mut u8> {
        None
    }
}

/// The global allocator of the wasm module: [`Classes`] over [`WasmMemory`]
/// (the type parameter is for the tests' memory). Built only inside this
/// crate, on single-threaded wasm32, as its `#[global_allocator]`.
pub struct Heap<G = WasmMemory>(UnsafeCell<Classes<G>>);

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl Heap {
    /// An empty heap; memory comes on the first allocation.
    pub(crate) const fn new() -> Self {
        Heap(UnsafeCell::new(Classes::new(WasmMemory)))
    }
}

// SAFETY: wasm32 without the atomics feature has no shared memory, so one
// thread runs the module and the state is never touched concurrently; the
// allocator never calls back into itself. Other targets get no `Sync`, so
// no static `Heap` there.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for Heap {}

// SAFETY: blocks are distinct, aligned as requested and at least as large as
// requested (see `Classes`); `Heap` is either `!Sync` or on a target with one
// thread, and `Classes` does not re-enter it, so the `&mut` is unique.
unsafe impl<G: Grow> GlobalAlloc for Heap<G> {
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
