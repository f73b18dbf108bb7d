// Everything is `static inline` in the headers of include/ (prefetch hints, huge-page blocks);
// SwiftPM wants one source file per C target.
#include "MulePrefetch.h"
