// How fast this machine is at this minute, so that benchmark figures taken at different
// times can be read side by side (the 2-core VMs we measure on change speed by 1.5x
// within minutes). Prints one line:
//
//   cpu_ms M fdatasync_p50_us P fdatasync_p90_us Q steal_pct S
//
// cpu_ms: median time of 9 rounds of a fixed chain of 20 million dependent integer
// operations (one core); fdatasync: 200 rounds of a 16 KiB pwrite and fdatasync over a
// 1 MiB file in DIR (default /tmp); steal_pct: the share of the machine's time the
// hypervisor gave to others while the probe ran (/proc/stat).
//
// Usage: machine-probe [DIR]     (bench/tools/machine-probe builds and runs it)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// Total and steal jiffies of all CPUs, from the first line of /proc/stat.
static void cpu_times(unsigned long long *total, unsigned long long *steal) {
  unsigned long long v[8] = {0};
  *total = 0;
  *steal = 0;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
             &v[7]) == 8) {
    for (int i = 0; i < 8; i++) *total += v[i];
    *steal = v[7];
  }
  fclose(f);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  unsigned long long total0, steal0, total1, steal1;
  cpu_times(&total0, &steal0);

  // CPU: xorshift steps, each depending on the last (no vectorizing, no skipping).
  double rounds[9];
  uint64_t x = 88172645463325252ull, sink = 0;
  for (int r = 0; r < 9; r++) {
    double t0 = now_us();
    for (int i = 0; i < 20000000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    sink += x;
    rounds[r] = (now_us() - t0) / 1000;
  }
  qsort(rounds, 9, sizeof rounds[0], by_value);

  // fdatasync of 16 KiB written over existing blocks.
  char path[4096];
  snprintf(path, sizeof path, "%s/machine-probe-%d.bin", dir, (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror(path);
    return 1;
  }
  static char block[16384];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 64; i++)
    if (pwrite(fd, block, sizeof block, (off_t)i * sizeof block) != (ssize_t)sizeof block) {
      perror("pwrite");
      return 1;
    }
  fsync(fd);
  double syncs[200];
  for (int i = 0; i < 200; i++) {
    block[0] = (char)i;
    double t0 = now_us();
    if (pwrite(fd, block, sizeof block, (off_t)(i % 64) * sizeof block) != (ssize_t)sizeof block || fdatasync(fd) != 0) {
      perror("pwrite/fdatasync");
      return 1;
    }
    syncs[i] = now_us() - t0;
  }
  close(fd);
  unlink(path);
  qsort(syncs, 200, sizeof syncs[0], by_value);

  cpu_times(&total1, &steal1);
  double stealPct = total1 > total0 ? 100.0 * (double)(steal1 - steal0) / (double)(total1 - total0) : 0;
  printf("cpu_ms %.1f fdatasync_p50_us %.0f fdatasync_p90_us %.0f steal_pct %.1f\n", rounds[4], syncs[100], syncs[180],
         stealPct);
  return sink == 42 ? 2 : 0;  // uses sink, so the loop is not thrown away
}
