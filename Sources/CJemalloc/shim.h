// jemalloc (Debian's libjemalloc2) as the process's allocator: linking it to mwid puts its
// malloc and free before glibc's for every library. Only what mwid asks of it directly:
#include <stddef.h>
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
