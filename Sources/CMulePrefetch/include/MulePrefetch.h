#ifndef MULE_PREFETCH_H
#define MULE_PREFETCH_H

// Software prefetch hints for MuleCore's hot path. Swift has no prefetch intrinsic, and a plain
// load used as "touch-ahead" blocks retirement until it arrives; a prefetch does not. Each call
// is a hint only: it never faults, not even on a bad address, and changes no result.

/// Brings the cache line holding `p` towards the core, to be read soon.
static inline __attribute__((always_inline)) void mule_prefetch_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Brings the cache line holding `p` towards the core, to be written soon.
static inline __attribute__((always_inline)) void mule_prefetch_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

#endif
