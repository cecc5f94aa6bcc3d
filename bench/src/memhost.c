/* SPDX-License-Identifier: MIT */
/*
 * memhost - the memory benchmark: NPROC processes of one host at once, each
 * holding the same index, either mapped by lazymod (map) or read into
 * private memory (read: malloc + read of the whole file).
 *
 *   memhost run OUT.csv WARM RUNS NPROC DIR
 *       Rounds alternate map and read (map read map read ...). In each, the
 *       NPROC children start, do their work and say so; once all have, the
 *       parent reads every child's /proc/PID/smaps: the Rss and Pss of the
 *       index's mapping (map: the file's mapping; read: the anonymous
 *       mapping holding the buffer) and the Pss of the whole process
 *       (smaps_rollup), then lets them exit.
 *   memhost child map|read DIR
 *       map: a lazymod context over DIR, then every feature listed and
 *       looked up by name (lm_list and lm_feature_info: records, strings
 *       and hash slots), loading nothing. read: the index read into memory.
 *       Then it prints the buffer's address and the number of features it
 *       listed (-1 for read), and waits for its stdin to close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lazymod.h>

extern char **environ;

#define MAXPROC 64

struct touched {
	struct lm_context *ctx;
	long features;
};

static int touch(void *data, const struct lm_feature_info *f)
{
	struct touched *t = data;
	struct lm_feature_info again;
	t->features++;
	return lm_feature_info(t->ctx, f->kind, f->name, &again) < 0 || again.loaded;
}

static int child(const char *mode, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	void *buf = NULL;
	size_t len = 0;
	struct lm_context *ctx = NULL;
	struct touched t = {NULL, -1};
	if (!strcmp(mode, "map")) {
		const char *dirs[] = {dir, NULL};
		struct lm_options opts = {.dirs = dirs, .iface_major = 1, .flags = LM_CTX_NO_FALLBACK};
		int r = lm_context_new(&opts, &ctx);
		t = (struct touched){ctx, 0};
		if (r == 0)
			r = lm_list(ctx, NULL, touch, &t);
		if (r != 0) {
			fprintf(stderr, "memhost: %s: %s (%s)\n", dir, lm_strerror(r), lm_errdetail(ctx));
			return 1;
		}
	} else {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(path);
			return 1;
		}
		len = (size_t)st.st_size;
		buf = malloc(len);
		size_t got = 0;
		while (buf && got < len) {
			ssize_t n = read(fd, (char *)buf + got, len - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		if (!buf || got != len) {
			fprintf(stderr, "memhost: cannot read %s\n", path);
			return 1;
		}
	}
	printf("%lx %ld\n", (unsigned long)(uintptr_t)buf, t.features);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0 || errno == EINTR)
		;
	lm_context_unref(ctx);
	free(buf);
	return 0;
}

struct figures {
	long rss, pss, total_pss;
};

/* Rss and Pss (kB) of the mapping holding addr, or of the index file's mapping when addr is 0. */
static int smaps(pid_t pid, unsigned long addr, struct figures *f)
{
	char path[64], line[4096];
	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	FILE *s = fopen(path, "r");
	if (!s)
		return -1;
	int in = 0, found = 0;
	f->rss = f->pss = 0;
	while (fgets(line, sizeof line, s)) {
		unsigned long lo, hi;
		char name[4096] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %4095s", &lo, &hi, name) >= 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			size_t n = strlen(name);
			in = addr ? (lo <= addr && addr < hi)
				  : (n >= 14 && !strcmp(name + n - 14, "/lazymod.index"));
			found |= in;
			continue;
		}
		long v;
		if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
			f->rss += v;
		else if (in && sscanf(line, "Pss: %ld kB", &v) == 1)
			f->pss += v;
	}
	fclose(s);
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	s = fopen(path, "r");
	f->total_pss = 0;
	while (s && fgets(line, sizeof line, s)) {
		long v;
		if (sscanf(line, "Pss: %ld kB", &v) == 1)
			f->total_pss = v;
	}
	if (s)
		fclose(s);
	return found ? 0 : -1;
}

static int run(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: memhost run OUT WARM RUNS NPROC DIR\n");
		return 2;
	}
	int warm = atoi(argv[3]), runs = atoi(argv[4]), nproc = atoi(argv[5]);
	const char *dir = argv[6];
	if (nproc < 1 || nproc > MAXPROC)
		return 2;
	char path[4096];
	snprintf(path, sizeof path, "%s/lazymod.index", dir);
	struct stat st;
	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0)
		return 1;
	self[sl] = 0;
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	fprintf(out, "phase,round,mode,nproc,proc,index_bytes,features_listed,rss_kb,pss_kb,"
		     "process_pss_kb\n");
	for (int r = 0; r < 2 * (warm + runs); r++) {
		const char *mode = r % 2 ? "read" : "map";
		int round = r / 2;
		pid_t pids[MAXPROC];
		int in[MAXPROC], outfd[MAXPROC];
		for (int i = 0; i < nproc; i++) {
			int p_in[2], p_out[2];
			if (pipe2(p_in, O_CLOEXEC) < 0 || pipe2(p_out, O_CLOEXEC) < 0)
				return 1;
			posix_spawn_file_actions_t fa;
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_adddup2(&fa, p_in[0], 0);
			posix_spawn_file_actions_adddup2(&fa, p_out[1], 1);
			char *cargv[] = {self, "child", (char *)mode, (char *)dir, NULL};
			if (posix_spawn(&pids[i], self, &fa, NULL, cargv, environ) != 0)
				return 1;
			posix_spawn_file_actions_destroy(&fa);
			close(p_in[0]);
			close(p_out[1]);
			in[i] = p_in[1];
			outfd[i] = p_out[0];
		}
		unsigned long addr[MAXPROC];
		long features[MAXPROC];
		int bad = 0;
		for (int i = 0; i < nproc; i++) {
			char line[64] = "";
			ssize_t n = read(outfd[i], line, sizeof line - 1);
			line[n > 0 ? n : 0] = 0;
			if (n <= 0 || sscanf(line, "%lx %ld", &addr[i], &features[i]) != 2)
				bad = 1;
		}
		for (int i = 0; i < nproc && !bad; i++) {
			struct figures f;
			if (smaps(pids[i], addr[i], &f) < 0) {
				fprintf(stderr, "memhost: no index mapping in process %d\n", (int)pids[i]);
				bad = 1;
				break;
			}
			int w = round < warm;
			fprintf(out, "%s,%d,%s,%d,%d,%lld,%ld,%ld,%ld,%ld\n", w ? "warm" : "run",
				w ? round : round - warm, mode, nproc, i, (long long)st.st_size,
				features[i], f.rss, f.pss, f.total_pss);
		}
		for (int i = 0; i < nproc; i++) {
			close(in[i]);
			close(outfd[i]);
		}
		for (int i = 0; i < nproc; i++) {
			int status;
			while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
				;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				bad = 1;
		}
		if (bad) {
			fprintf(stderr, "memhost: a %s child failed\n", mode);
			return 1;
		}
	}
	return fclose(out) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "child"))
		return child(argv[2], argv[3]);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return run(argc, argv);
	fprintf(stderr, "usage: memhost run OUT WARM RUNS NPROC DIR | child map|read DIR\n");
	return 2;
}
