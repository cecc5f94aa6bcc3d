/* SPDX-License-Identifier: MIT */
/*
 * testutil.h - helpers for the tests: fixture paths, scratch directories,
 * what the process has mapped, and a log callback that records messages.
 */
#ifndef LAZYMOD_TESTUTIL_H
#define LAZYMOD_TESTUTIL_H

#include "harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <lazymod.h>

/* $FIXTURES/sub (the build's tests/fixtures, set by the test runner). */
static inline const char *fixture(const char *sub)
{
	static char bufs[4][4096];
	static int next;
	const char *root = getenv("FIXTURES");
	if (!root)
		FAIL("FIXTURES is not set: run the tests through meson test");
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof bufs[0], "%s/%s", root, sub);
	return b;
}

static char scratch_root[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static void scratch_cleanup(void)
{
	if (scratch_root[0] && getenv("KEEP_SCRATCH") == NULL)
		nftw(scratch_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory, removed when the case exits. */
static inline const char *scratch(void)
{
	if (!scratch_root[0]) {
		snprintf(scratch_root, sizeof scratch_root, "/tmp/lazymod-test-XXXXXX");
		if (!mkdtemp(scratch_root))
			FAIL("mkdtemp: %s", strerror(errno));
		atexit(scratch_cleanup);
	}
	return scratch_root;
}

__attribute__((format(printf, 1, 2))) static inline void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		FAIL("command failed: %s", cmd);
}

/* Copies fixture directory `name` to a scratch directory and returns it. */
static inline const char *copy_fixture(const char *name)
{
	static char dst[4096];
	snprintf(dst, sizeof dst, "%s/%s", scratch(), name);
	sh("cp -a '%s' '%s'", fixture(name), dst);
	return dst;
}

/* Whether a file whose name is `base` is mapped into this process. */
static inline bool mapped(const char *base)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	bool found = false;
	size_t n = strlen(base);
	while (f && !found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		size_t len = strlen(line);
		found = len > n && line[len - n - 1] == '/' && !strcmp(line + len - n, base);
	}
	if (f)
		fclose(f);
	return found;
}

/* How many distinct files with prefix `prefix` and suffix ".so" are mapped. */
static inline int count_mapped(const char *prefix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096], seen[256][64];
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *base = strrchr(line, '/');
		if (!base || strncmp(base + 1, prefix, strlen(prefix)) || !strstr(base, ".so"))
			continue;
		bool dup = false;
		for (int i = 0; i < n && !dup; i++)
			dup = !strcmp(seen[i], base + 1);
		if (!dup && n < 256)
			snprintf(seen[n++], sizeof seen[0], "%s", base + 1);
	}
	if (f)
		fclose(f);
	return n;
}

/* A log callback that keeps counts and the last message. */
struct log_record {
	int warnings, debug;
	char last[1024];
	char all[8192];
};

static inline void record_log(void *data, int priority, const char *file, int line, const char *fn,
			      const char *format, va_list args)
{
	(void)file, (void)line, (void)fn;
	struct log_record *r = data;
	vsnprintf(r->last, sizeof r->last, format, args);
	size_t used = strlen(r->all);
	snprintf(r->all + used, sizeof r->all - used, "%s\n", r->last);
	if (priority <= LM_LOG_WARNING)
		r->warnings++;
	else
		r->debug++;
}

#endif
