use super::*;
use std::alloc::{alloc_zeroed, dealloc as free_arena};

/// Pages from one real, page-aligned allocation of `pages` pages; `None`
/// after. With `gap` > 0, that many pages are skipped before each grant
/// after the first, as if someone else had grown memory in between: the
/// non-contiguous case. Skipped pages are filled with [`SENTINEL`].
struct Arena {
    base: *mut u8,
    used: usize,
    pages: usize,
    gap: usize,
}

/// What the skipped pages of a gapped [`Arena`] hold; the heap must not touch them.
const SENTINEL: u8 = 0xA5;

impl Arena {
    fn new(pages: usize) -> Arena {
        Arena::with_gaps(pages, 0)
    }

    fn with_gaps(pages: usize, gap: usize) -> Arena {
        let layout = Layout::from_size_align(pages * PAGE, PAGE).unwrap();
        // SAFETY: non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null());
        Arena {
            base,
            used: 0,
            pages,
            gap,
        }
    }

    /// Whether every skipped page still holds only [`SENTINEL`].
    fn gaps_untouched(&self, gaps: &[usize]) -> bool {
        gaps.iter().all(|&page| {
            // SAFETY: `page` is a page of this arena, written in `grow`.
            let bytes = unsafe { core::slice::from_raw_parts(self.base.add(page * PAGE), PAGE) };
            *bytes == [SENTINEL; PAGE]
        })
    }
}

impl Grow for Arena {
    fn grow(&mut self, pages: usize) -> Option<*mut u8> {
        let skip = if self.used == 0 { 0 } else { self.gap };
        if self.used + skip + pages > self.pages {
            return None;
        }
        // SAFETY: the skipped pages are inside the arena (checked above).
        unsafe { ptr::write_bytes(self.base.add(self.used * PAGE), SENTINEL, skip * PAGE) };
        self.used += skip;
        // SAFETY: inside the arena (checked above).
        let at = unsafe { self.base.add(self.used * PAGE) };
        self.used += pages;
        Some(at)
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.pages * PAGE, PAGE).unwrap();
        // SAFETY: allocated in `with_gaps` with this layout.
        unsafe { free_arena(self.base, layout) }
    }
}

/// The last `pages` pages below the top of the address space, granted once;
/// never dereferenced (the test that uses it only looks at addresses).
struct Top {
    granted: bool,
}

impl Grow for Top {
    fn grow(&mut self, pages: usize) -> Option<*mut u8> {
        if self.granted {
            return None;
        }
        self.granted = true;
        Some(ptr::without_provenance_mut(
            0usize.wrapping_sub(pages * PAGE),
        ))
    }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Fills `size` bytes at `p` with `tag`.
unsafe fn fill(p: *mut u8, size: usize, tag: u8) {
    unsafe { ptr::write_bytes(p, tag, size) }
}

/// Whether `size` bytes at `p` all hold `tag` (compared as slices, which is
/// one `memcmp`: byte loops are very slow under Miri).
unsafe fn holds(p: *const u8, size: usize, tag: u8) -> bool {
    let bytes = unsafe { core::slice::from_raw_parts(p, size) };
    *bytes == *vec![tag; size]
}

#[test]
fn freed_block_is_reused_for_the_same_class() {
    let mut heap = Classes::new(Arena::new(4));
    unsafe {
        let a = heap.alloc(layout(300, 1));
        heap.dealloc(a, layout(300, 1));
        // 300 and 500 bytes share the 512-byte class, whatever the alignment.
        assert_eq!(heap.alloc(layout(500, 8)), a);
        assert_ne!(heap.alloc(layout(500, 8)), a);
    }
}

#[test]
fn realloc_within_the_class_keeps_the_block_and_across_copies_it() {
    let mut heap = Classes::new(Arena::new(4));
    unsafe {
        let a = heap.alloc(layout(20, 1));
        for i in 0..20 {
            *a.add(i) = i as u8;
        }
        assert_eq!(heap.realloc(a, layout(20, 1), 32), a);
        let b = heap.realloc(a, layout(32, 1), 100);
        assert_ne!(b, a);
        for i in 0..20 {
            assert_eq!(*b.add(i), i as u8);
        }
    }
}

#[test]
fn exhausted_memory_and_huge_alignments_give_null() {
    let mut heap = Classes::new(Arena::new(2));
    unsafe {
        assert!(heap.alloc(layout(8, 8192)).is_null());
        assert!(!heap.alloc(layout(PAGE, 8)).is_null());
        assert!(heap.alloc(layout(2 * PAGE, 8)).is_null());
        assert!(heap.alloc(layout(usize::MAX / 4, 8)).is_null());
    }
}

#[test]
fn alignments_above_64_are_served_up_to_max_align_and_refused_beyond() {
    let mut heap = Classes::new(Arena::new(8));
    unsafe {
        // A small block first, so the region's next byte is not aligned.
        let small = heap.alloc(layout(8, 8));
        fill(small, 8, 0);
        let mut live = vec![(small, layout(8, 8), 0u8)];
        for align in [128, 256, 1024, 4096, 128, 4096] {
            for size in [1, align / 2, align, align + 1] {
                let l = layout(size, align);
                let p = heap.alloc(l);
                assert!(!p.is_null(), "{size} bytes at {align}");
                assert_eq!(p.addr() % align, 0, "{size} bytes at {align}");
                let tag = live.len() as u8;
                fill(p, size, tag);
                live.push((p, l, tag));
            }
        }
        for (p, l, tag) in &live {
            assert!(holds(*p, l.size(), *tag), "overwritten: {l:?}");
        }
        // Above MAX_ALIGN: null, even for one byte.
        for align in [8192, PAGE, 1 << 20] {
            assert!(heap.alloc(layout(1, align)).is_null(), "align {align}");
        }
        // A block of the 4096 class asked for with alignment 8 is still
        // 4096-aligned, so once freed it can serve a 4096-aligned request.
        let loose = heap.alloc(layout(4096, 8));
        assert_eq!(loose.addr() % 4096, 0);
        heap.dealloc(loose, layout(4096, 8));
        assert_eq!(heap.alloc(layout(1, 4096)), loose);
    }
}

#[test]
fn growth_contiguous_with_the_region_extends_it() {
    let mut heap = Classes::new(Arena::new(8));
    unsafe {
        let first = heap.alloc(layout(8, 8));
        fill(first, 8, 1);
        // 64 KiB does not fit in the rest of the first page; the pages added
        // follow it, so the block starts in the first page, at 4096.
        let big = heap.alloc(layout(PAGE, 8));
        assert_eq!(big.addr(), first.addr() + 4096);
        fill(big, PAGE, 2);
        assert!(holds(first, 8, 1));
    }
}

#[test]
fn growth_not_contiguous_with_the_region_starts_a_new_one() {
    // Each grant after the first comes 3 foreign pages later.
    let mut heap = Classes::new(Arena::with_gaps(16, 3));
    unsafe {
        let first = heap.alloc(layout(8, 8)); // arena page 0
        let base = first.addr();
        fill(first, 8, 1);
        // Needs 2 more pages, granted at pages 4-5: the block starts there,
        // not at 4096 in page 0 as it would if memory were contiguous.
        let big = heap.alloc(layout(PAGE, 8));
        assert_eq!(big.addr(), base + 4 * PAGE);
        fill(big, PAGE, 2);
        // The new region carries on where that block ended.
        let next = heap.alloc(layout(16, 16));
        assert_eq!(next.addr(), big.addr() + PAGE);
        fill(next, 16, 3);
        // 3 pages more, after foreign pages 6-8.
        let huge = heap.alloc(layout(2 * PAGE, 8));
        assert_eq!(huge.addr(), base + 9 * PAGE);
        fill(huge, 2 * PAGE, 4);
        assert!(holds(first, 8, 1) && holds(big, PAGE, 2) && holds(next, 16, 3));
        assert!(heap.grow.gaps_untouched(&[1, 2, 3, 6, 7, 8]));
        // 12 of 16 pages used; another 3 + 3 do not fit.
        assert!(heap.alloc(layout(2 * PAGE, 8)).is_null());
    }
}

#[test]
fn the_top_of_the_address_space_gives_null_instead_of_wrapping() {
    let mut heap = Classes::new(Top { granted: false });
    let top_page = 0usize.wrapping_sub(PAGE);
    unsafe {
        // One page at the very top, whose end (2^BITS) is not representable.
        assert_eq!(heap.alloc(layout(PAGE / 2, 8)).addr(), top_page);
        // Fill it down to its last 8 bytes: 16 KiB, 8 KiB, ... 8 bytes.
        let mut size = PAGE / 4;
        let mut expected = top_page + PAGE / 2;
        while size >= 8 {
            assert_eq!(heap.alloc(layout(size, 8)).addr(), expected);
            expected += size;
            size /= 2;
        }
        assert_eq!(expected, usize::MAX - 7);
        // The last 8 bytes would end at 2^BITS, and aligning up to 4096
        // would pass it: both null, not a wrapped address near 0.
        assert!(heap.alloc(layout(8, 8)).is_null());
        assert!(heap.alloc(layout(1, 4096)).is_null());
        assert!(heap.alloc(layout(PAGE / 2, 8)).is_null());
    }
}

#[test]
fn the_global_alloc_interface_allocates_frees_and_resizes() {
    let heap = Heap(UnsafeCell::new(Classes::new(Arena::new(4))));
    unsafe {
        let a = GlobalAlloc::alloc(&heap, layout(40, 8));
        fill(a, 40, 9);
        let b = GlobalAlloc::realloc(&heap, a, layout(40, 8), 200);
        assert!(holds(b, 40, 9));
        GlobalAlloc::dealloc(&heap, b, layout(200, 8));
        // The dirty 256-byte block comes back, zeroed when asked.
        let z = GlobalAlloc::alloc_zeroed(&heap, layout(256, 8));
        assert_eq!(z, b);
        assert!(holds(z, 256, 0));
    }
}

/// Runs `ops` (`(op, size, align)`: op 0 allocates, 1 frees and 2 resizes a
/// live block picked by `size`; both allocate when nothing is live) and
/// checks that every live block is aligned and keeps its own contents: no
/// overlap, no reuse while live. Frees what is left at the end.
unsafe fn run_ops(heap: &mut Classes<Arena>, ops: impl IntoIterator<Item = (u64, usize, usize)>) {
    let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
    for (n, (op, size, align)) in ops.into_iter().enumerate() {
        let tag = n as u8;
        unsafe {
            if op == 0 || live.is_empty() {
                let l = layout(size, align);
                let p = heap.alloc(l);
                assert!(!p.is_null(), "{l:?}");
                assert_eq!(p.addr() % align, 0, "{l:?}");
                fill(p, size, tag);
                live.push((p, l, tag));
            } else if op == 1 {
                let (p, l, t) = live.swap_remove(size % live.len());
                assert!(holds(p, l.size(), t), "{l:?}");
                heap.dealloc(p, l);
            } else {
                let i = size % live.len();
                let (p, l, t) = live[i];
                let q = heap.realloc(p, l, size);
                assert!(!q.is_null(), "{l:?} to {size}");
                assert!(holds(q, l.size().min(size), t), "{l:?} to {size}");
                fill(q, size, t);
                live[i] = (q, layout(size, l.align()), t);
            }
        }
    }
    for (p, l, t) in live {
        unsafe {
            assert!(holds(p, l.size(), t), "{l:?}");
            heap.dealloc(p, l);
        }
    }
}

/// `steps` operations for [`run_ops`] from a small xorshift generator, the
/// same on every run: sizes below `max_size`, alignments 1 to 4096.
fn mixed_ops(mut state: u64, steps: usize, max_size: usize) -> Vec<(u64, usize, usize)> {
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..steps)
        .map(|_| (next() % 3, next() as usize % max_size, 1 << (next() % 13)))
        .collect()
}

#[test]
fn mixed_use_keeps_blocks_aligned_and_apart_in_one_region() {
    let mut heap = Classes::new(Arena::new(32));
    unsafe { run_ops(&mut heap, mixed_ops(0x9E37_79B9_7F4A_7C15, 300, 3000)) };
}

#[test]
fn mixed_use_keeps_blocks_aligned_and_apart_across_gaps() {
    let mut heap = Classes::new(Arena::with_gaps(64, 1));
    unsafe { run_ops(&mut heap, mixed_ops(0xD1B5_4A32_D192_ED03, 300, 3000)) };
}

// proptest is a native-only dev-dependency; under Miri it would take hours
// (the deterministic mixed-use tests above stand in for it there).
#[cfg(all(not(target_arch = "wasm32"), not(miri)))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random allocations, frees and resizes, with alignments up to 4096
        /// and growth that is contiguous or not: see [`run_ops`].
        #[test]
        fn live_blocks_are_aligned_and_never_overlap(
            ops in prop::collection::vec((0u64..3, 0usize..5000, 0u32..13), 1..300),
            gap in 0usize..3,
        ) {
            let mut heap = Classes::new(Arena::with_gaps(256, gap));
            let ops = ops.into_iter().map(|(op, size, log)| (op, size, 1 << log));
            unsafe { run_ops(&mut heap, ops) };
        }
    }
}
