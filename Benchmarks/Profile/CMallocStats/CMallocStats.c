#include "CMallocStats.h"
#include <malloc.h>

void cmallocstats_trim(void) { malloc_trim(0); }
