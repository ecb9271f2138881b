//! Data parallelism: rayon's with `std`, and the same calls run
//! sequentially without it, so that the tensor code is written once.

#[cfg(feature = "std")]
pub(crate) use rayon::current_num_threads;
#[cfg(feature = "std")]
pub(crate) use rayon::prelude::*;

/// One thread: every parallel path takes its sequential branch.
#[cfg(not(feature = "std"))]
pub(crate) fn current_num_threads() -> usize {
    1
}

/// rayon's mutable slice methods, as sequential iterators.
#[cfg(not(feature = "std"))]
pub(crate) trait ParallelSliceMut<T> {
    fn par_chunks_mut(&mut self, n: usize) -> core::slice::ChunksMut<'_, T>;
    fn par_iter_mut(&mut self) -> core::slice::IterMut<'_, T>;
}

#[cfg(not(feature = "std"))]
impl<T> ParallelSliceMut<T> for [T] {
    fn par_chunks_mut(&mut self, n: usize) -> core::slice::ChunksMut<'_, T> {
        self.chunks_mut(n)
    }
    fn par_iter_mut(&mut self) -> core::slice::IterMut<'_, T> {
        self.iter_mut()
    }
}

/// `par_iter` on slices, sequentially.
#[cfg(not(feature = "std"))]
pub(crate) trait ParallelIter<T> {
    fn par_iter(&self) -> core::slice::Iter<'_, T>;
}

#[cfg(not(feature = "std"))]
impl<T> ParallelIter<T> for [T] {
    fn par_iter(&self) -> core::slice::Iter<'_, T> {
        self.iter()
    }
}

/// rayon's iterator adaptors that have no sequential meaning.
#[cfg(not(feature = "std"))]
pub(crate) trait IteratorExt: Iterator + Sized {
    fn with_min_len(self, _: usize) -> Self {
        self
    }
}

#[cfg(not(feature = "std"))]
impl<I: Iterator> IteratorExt for I {}
