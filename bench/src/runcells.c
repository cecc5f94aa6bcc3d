/* SPDX-License-Identifier: MIT */
/*
 * runcells - runs benchmark cells interleaved, one process per run.
 *
 *   runcells -o OUT.csv [-w WARMUP] [-r RUNS] [-x WARMARG] [-a] SPEC
 *
 * SPEC holds one cell a line: a label, a tab, then the command's argv
 * separated by tabs. Each round runs every cell once, in the file's order
 * (A B C A B C ...), or with -a in the reverse order every other round
 * (A B C C B A ...: neighbours stay neighbours, and no cell always follows
 * the same one): WARMUP rounds first (flagged "warm"; in them WARMARG,
 * when given, is appended to each command, e.g. to make a host count its
 * libraries), then RUNS rounds.
 *
 * For each run the driver takes CLOCK_MONOTONIC just before posix_spawn
 * (t0) and just after wait4 returns (end), and keeps wait4's rusage. The
 * child's standard output (one line of key=value words, such as its own
 * CLOCK_MONOTONIC readings at main() and when ready) is stored as is: the
 * clock is the same, so main - t0 is exec-to-main.
 *
 * Linked statically and kept small: Linux folds the parent's peak RSS into
 * a spawned child's ru_maxrss (exec_mmap), so the driver's own peak is the
 * floor of every figure; it is written as the last row (phase "driver").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define MAX_CELLS 64
#define MAX_ARGS 32

struct cell {
	char *label;
	char *argv[MAX_ARGS + 2];
	int argc;
};

static struct cell cells[MAX_CELLS];
static int ncells;

static void die(const char *msg)
{
	perror(msg);
	exit(2);
}

static void load_spec(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die(path);
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		if (ncells == MAX_CELLS) {
			fprintf(stderr, "runcells: too many cells\n");
			exit(2);
		}
		struct cell *c = &cells[ncells++];
		char *save = NULL, *tok = strtok_r(line, "\t", &save);
		c->label = strdup(tok);
		while ((tok = strtok_r(NULL, "\t", &save)) && c->argc < MAX_ARGS)
			c->argv[c->argc++] = strdup(tok);
		if (!c->argc) {
			fprintf(stderr, "runcells: cell %s has no command\n", c->label);
			exit(2);
		}
	}
	fclose(f);
}

/* Runs one command; fills the row. Returns the exit status (or -1). */
static int run_one(char **argv, FILE *out, const char *phase, int round, const char *label)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	pid_t pid;
	uint64_t t0 = bench_now();
	int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	close(pfd[1]);
	posix_spawn_file_actions_destroy(&fa);
	if (e) {
		errno = e;
		die(argv[0]);
	}
	char buf[1024];
	size_t used = 0;
	for (;;) {
		ssize_t n = read(pfd[0], buf + used, sizeof buf - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof buf - 1) { /* drain the rest, keep the start */
			char sink[4096];
			while (read(pfd[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	close(pfd[0]);
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	uint64_t end = bench_now();
	buf[used] = 0;
	for (char *p = buf; *p; p++)
		if (*p == ',' || *p == '\n' || *p == '\r' || *p == '"')
			*p = ' ';
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(out, "%s,%d,%s,%llu,%llu,%llu,%ld,%ld,%ld,%d,%s\n", phase, round, label,
		(unsigned long long)t0, (unsigned long long)end, (unsigned long long)(end - t0),
		ru.ru_maxrss, (long)(ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec),
		(long)(ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec), code, buf);
	if (code != 0)
		fprintf(stderr, "runcells: %s exited with status %d (%s)\n", label, code, buf);
	return code;
}

int main(int argc, char **argv)
{
	const char *outpath = NULL, *warmarg = NULL;
	int warm = 3, runs = 30, alternate = 0, c;
	while ((c = getopt(argc, argv, "o:w:r:x:a")) != -1) {
		switch (c) {
		case 'a': alternate = 1; break;
		case 'o': outpath = optarg; break;
		case 'w': warm = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'x': warmarg = optarg; break;
		default:
			fprintf(stderr, "usage: runcells -o OUT [-w N] [-r N] [-x ARG] [-a] SPEC\n");
			return 2;
		}
	}
	if (!outpath || optind != argc - 1) {
		fprintf(stderr, "usage: runcells -o OUT [-w N] [-r N] [-x ARG] [-a] SPEC\n");
		return 2;
	}
	load_spec(argv[optind]);
	FILE *out = fopen(outpath, "w");
	if (!out)
		die(outpath);
	fprintf(out, "phase,round,cell,t0_ns,end_ns,wall_ns,maxrss_kb,utime_us,stime_us,status,out\n");
	int failures = 0;
	for (int r = 0; r < warm + runs; r++) {
		int w = r < warm;
		for (int k = 0; k < ncells; k++) {
			struct cell *cl = &cells[alternate && r % 2 ? ncells - 1 - k : k];
			cl->argv[cl->argc] = w ? (char *)warmarg : NULL;
			cl->argv[cl->argc + 1] = NULL;
			failures += run_one(cl->argv, out, w ? "warm" : "run", w ? r : r - warm,
					    cl->label) != 0;
		}
	}
	struct rusage self;
	getrusage(RUSAGE_SELF, &self);
	fprintf(out, "driver,0,driver,0,0,0,%ld,0,0,0,\n", self.ru_maxrss);
	if (fclose(out) != 0)
		die(outpath);
	return failures ? 1 : 0;
}
