#ifndef MULE_HUGE_BLOCK_H
#define MULE_HUGE_BLOCK_H

// Large blocks for the core's big arrays (`LineArray`), backed by transparent huge pages where
// the kernel allows them: `MADV_HUGEPAGE`, for the usual `madvise` mode of
// /sys/kernel/mm/transparent_hugepage/enabled. Header-only like the rest of this module (the
// scripts that build MuleCore with swiftc alone compile no C file).

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define MULE_HUGE_PAGE ((size_t)2 << 20)

/// Bytes a block of at least `bytes` takes (rounded up to 2 MiB).
static inline size_t mule_huge_block_size(size_t bytes) {
    return (bytes + MULE_HUGE_PAGE - 1) & ~(MULE_HUGE_PAGE - 1);
}

/// A zero-filled, 2 MiB-aligned block of at least `bytes`, or NULL when the address space could
/// not be mapped. Without THP (or with it off) its pages simply stay small.
static inline void *mule_huge_block_alloc(size_t bytes) {
    size_t size = mule_huge_block_size(bytes);
    // Map 2 MiB more and cut the block out on a 2 MiB boundary: only aligned 2 MiB ranges can
    // be huge pages.
    uint8_t *raw = (uint8_t *)mmap(NULL, size + MULE_HUGE_PAGE, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uintptr_t start = ((uintptr_t)raw + MULE_HUGE_PAGE - 1) & ~(uintptr_t)(MULE_HUGE_PAGE - 1);
    size_t head = start - (uintptr_t)raw;
    if (head > 0) munmap(raw, head);
    size_t tail = MULE_HUGE_PAGE - head;
    if (tail > 0) munmap((uint8_t *)start + size, tail);
    (void)madvise((void *)start, size, MADV_HUGEPAGE);  // a hint: refused, the pages stay small
    return (void *)start;
}

/// Gives back a block from `mule_huge_block_alloc` (`bytes` as asked for then).
static inline void mule_huge_block_free(void *block, size_t bytes) {
    if (block) munmap(block, mule_huge_block_size(bytes));
}

#endif
