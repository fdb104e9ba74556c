/*
 * kmatrix battery: a fixed script of system calls with known arguments, run
 * in the guest while the consumer captures. Each call is made raw (syscall(2),
 * so libc cannot swap it for another) and printed as one line
 *   KMB <seq> <call> <name>=<value> ... ret=<return value>
 * which the host compares with the events the consumer printed. Static, so
 * the guest needs nothing else. Usage: kmbattery NONCE [PORT]
 * (kmbattery exec NONCE is the script's own execve target: it exits with
 * code 42 and prints nothing.)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static int seq;
#define KMB(fmt, ...) printf("KMB %d " fmt "\n", ++seq, __VA_ARGS__)

/* The guest's loopback starts down: up, so that connect/accept have a route (not part of the script). */
static void loopback_up(void) {
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0) close(s);
}

int main(int argc, char **argv) {
	/* stdout is flushed only before fork and exec and at exit: few writes of our own among the script's events */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 3 && strcmp(argv[1], "exec") == 0) syscall(SYS_exit_group, 42);
	if (argc < 2) {
		fprintf(stderr, "usage: %s NONCE [PORT]\n", argv[0]);
		return 2;
	}
	const char *nonce = argv[1];
	int port = argc > 2 ? atoi(argv[2]) : 41000;
	char dir[256], data[300], renamed[300], text[64];
	snprintf(dir, sizeof dir, "/tmp/kmatrix-battery-%s", nonce);
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(renamed, sizeof renamed, "%s/renamed", dir);
	int len = snprintf(text, sizeof text, "kmatrix battery %s\n", nonce);
	loopback_up();
	printf("KMB 0 start pid=%d\n", (int)getpid()); /* whose events are the script's */

	long r = syscall(SYS_mkdirat, AT_FDCWD, dir, 0755);
	KMB("mkdirat path=%s mode=0755 ret=%ld", dir, r);

	long fd = syscall(SYS_openat, AT_FDCWD, data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	KMB("openat path=%s flags=O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC mode=0644 ret=%ld", data, fd);
	r = syscall(SYS_write, fd, text, len);
	KMB("write fd=%ld size=%d ret=%ld", fd, len, r);
	r = syscall(SYS_close, fd);
	KMB("close fd=%ld ret=%ld", fd, r);

	fd = syscall(SYS_openat, AT_FDCWD, data, O_RDONLY | O_CLOEXEC);
	KMB("openat path=%s flags=O_RDONLY|O_CLOEXEC mode=0 ret=%ld", data, fd);
	char buf[64];
	r = syscall(SYS_read, fd, buf, sizeof buf);
	KMB("read fd=%ld size=%zu ret=%ld", fd, sizeof buf, r);
	r = syscall(SYS_close, fd);
	KMB("close fd=%ld ret=%ld", fd, r);

	r = syscall(SYS_renameat2, AT_FDCWD, data, AT_FDCWD, renamed, RENAME_NOREPLACE);
	KMB("renameat2 oldpath=%s newpath=%s flags=RENAME_NOREPLACE ret=%ld", data, renamed, r);
	r = syscall(SYS_unlinkat, AT_FDCWD, renamed, 0);
	KMB("unlinkat path=%s flags=0 ret=%ld", renamed, r);
	r = syscall(SYS_unlinkat, AT_FDCWD, dir, AT_REMOVEDIR);
	KMB("unlinkat path=%s flags=AT_REMOVEDIR ret=%ld", dir, r);

	/* TCP over loopback: the listener, a client that connects (the backlog takes it), the accepted socket */
	struct sockaddr_in addr;
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	long srv = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	KMB("socket domain=AF_INET type=SOCK_STREAM proto=0 ret=%ld", srv);
	int one = 1;
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	r = syscall(SYS_bind, srv, &addr, sizeof addr);
	KMB("bind fd=%ld addr=127.0.0.1:%d ret=%ld", srv, port, r);
	r = syscall(SYS_listen, srv, 1);
	KMB("listen fd=%ld backlog=1 ret=%ld", srv, r);
	long cli = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	KMB("socket domain=AF_INET type=SOCK_STREAM proto=0 ret=%ld", cli);
	r = syscall(SYS_connect, cli, &addr, sizeof addr);
	KMB("connect fd=%ld addr=127.0.0.1:%d ret=%ld", cli, port, r);
	/* accept only what connected: with nothing queued it would wait for ever (a loopback left down) */
	long acc = -1;
	if (r == 0) {
#ifdef SYS_accept
		acc = syscall(SYS_accept, srv, NULL, NULL);
		KMB("accept fd=%ld ret=%ld", srv, acc);
#else
		acc = syscall(SYS_accept4, srv, NULL, NULL, 0);
		KMB("accept4 fd=%ld ret=%ld", srv, acc);
#endif
	}
	for (long f = acc; f >= 0; f = -1) syscall(SYS_close, f);
	syscall(SYS_close, cli);
	syscall(SYS_close, srv);

	/* a child (fork: clone), which execs this program again with the nonce, and exits 42; the parent waits */
	int at = seq; /* clone is at+1, the child's execve at+2 (whichever prints first) */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char self[] = "/kmatrix/kmbattery", execarg[] = "exec";
		char *child_argv[] = {self, execarg, (char *)nonce, NULL};
		printf("KMB %d execve path=%s argv=kmbattery,exec,%s\n", at + 2, self, nonce);
		fflush(stdout);
		syscall(SYS_execve, self, child_argv, (char *[]){NULL});
		_exit(127);
	}
	printf("KMB %d clone ret=%d\n", at + 1, (int)pid);
	fflush(stdout);
	seq = at + 2;
	int status = 0;
	r = syscall(SYS_wait4, pid, &status, 0, NULL);
	KMB("exit pid=%d code=%d", (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	KMB("wait4 pid=%d ret=%ld", (int)pid, r);
	return 0;
}
