use super::*;
use std::alloc::{alloc_zeroed, dealloc as free_arena};

/// Pages from one real, page-aligned arena of `pages` pages; `None` after.
struct Arena {
    base: usize,
    used: usize,
    pages: usize,
}

impl Arena {
    fn new(pages: usize) -> Arena {
        let layout = Layout::from_size_align(pages * PAGE, PAGE).unwrap();
        // SAFETY: non-zero size.
        let base = unsafe { alloc_zeroed(layout) } as usize;
        assert_ne!(base, 0);
        Arena {
            base,
            used: 0,
            pages,
        }
    }
}

impl Grow for Arena {
    fn grow(&mut self, pages: usize) -> Option<usize> {
        (self.used + pages <= self.pages).then(|| {
            let at = self.base + self.used * PAGE;
            self.used += pages;
            at
        })
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.pages * PAGE, PAGE).unwrap();
        // SAFETY: allocated in `new` with this layout.
        unsafe { free_arena(self.base as *mut u8, layout) }
    }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
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

// proptest is a native-only dev-dependency.
#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random allocations, frees and resizes: every live block is aligned
        /// as asked and keeps its own contents (no overlap, no reuse while live).
        #[test]
        fn live_blocks_are_aligned_and_never_overlap(
            ops in prop::collection::vec((0usize..3, 0usize..5000, 0u32..7), 1..300)
        ) {
            let mut heap = Classes::new(Arena::new(64));
            let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
            for (n, (op, size, align_log)) in ops.into_iter().enumerate() {
                let tag = n as u8;
                unsafe {
                    match op {
                        0 | 1 if op == 0 || live.is_empty() => {
                            let l = layout(size, 1 << align_log);
                            let p = heap.alloc(l);
                            prop_assert!(!p.is_null());
                            prop_assert_eq!(p as usize % l.align(), 0);
                            ptr::write_bytes(p, tag, size);
                            live.push((p, l, tag));
                        }
                        1 => {
                            let (p, l, t) = live.swap_remove(size % live.len());
                            prop_assert!((0..l.size()).all(|k| *p.add(k) == t));
                            heap.dealloc(p, l);
                        }
                        _ => {
                            if live.is_empty() {
                                continue;
                            }
                            let i = size % live.len();
                            let (p, l, t) = live[i];
                            let q = heap.realloc(p, l, size);
                            prop_assert!(!q.is_null());
                            let kept = l.size().min(size);
                            prop_assert!((0..kept).all(|k| *q.add(k) == t));
                            ptr::write_bytes(q, t, size);
                            live[i] = (q, layout(size, l.align()), t);
                        }
                    }
                }
            }
            for (p, l, t) in &live {
                // SAFETY: a live block of `l.size()` bytes.
                let intact = (0..l.size()).all(|k| unsafe { *p.add(k) } == *t);
                prop_assert!(intact);
            }
        }
    }
}
