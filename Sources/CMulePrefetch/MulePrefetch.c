// Everything is `static inline` in include/MulePrefetch.h; SwiftPM wants one source file per C target.
#include "MulePrefetch.h"
