/// Gives the memory malloc holds free back to the system (glibc's malloc_trim), so that
/// the resident size that follows counts what is in use.
void cmallocstats_trim(void);
