/*
 * kmatrix workload: a fixed syscall loop, timed. Opens and closes one file
 * COUNT times (2 * COUNT system calls) and prints the elapsed wall-clock time
 * in nanoseconds (CLOCK_MONOTONIC), alone on stdout. Built static, so the
 * guest needs nothing else. Usage: syscall-loop COUNT FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s COUNT FILE\n", argv[0]);
		return 2;
	}
	long count = strtol(argv[1], NULL, 10);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < count; i++) {
		/* the raw syscalls: libc may map open() to openat() anyway, this says which */
		long fd = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		syscall(SYS_close, fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
