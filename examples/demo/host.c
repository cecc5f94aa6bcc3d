/* SPDX-License-Identifier: MIT */
/*
 * lazymod-demo - a small host: greets people in languages its modules
 * provide and tells file types from their bytes, loading a module only when
 * a command needs one of its features.
 *
 *   lazymod-demo list                 what the modules provide (index only)
 *   lazymod-demo greet LANG WHO       loads the greeting module of LANG
 *   lazymod-demo probe FILE...        file types, by rules, then code probes
 *   lazymod-demo maps                 which modules this process has mapped
 *
 * Several commands may follow one another, separated by "--".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lazymod.h>

#include "demo.h"

static struct lm_context *ctx;

static const char *transform(const char *kind, const char *name, const char *text)
{
	const struct demo_text *t;
	if (lm_get(ctx, kind, name, (const void **)&t) < 0)
		return text;
	t->shout((char *)text);
	return text;
}

static const struct demo_services services = {1, transform};

static int print_feature(void *data, const struct lm_feature_info *f)
{
	(void)data;
	printf("  %-10s %-8s module %-9s %s%s\n", f->kind, f->name, f->module, f->description,
	       f->loaded ? " (loaded)" : "");
	return 0;
}

static int greet(const char *lang, const char *who)
{
	const struct demo_greeting *g;
	int r = lm_get(ctx, "greeting", lang, (const void **)&g);
	if (r < 0) {
		fprintf(stderr, "lazymod-demo: greeting %s: %s (%s)\n", lang, lm_strerror(r),
			lm_errdetail(ctx));
		return 1;
	}
	char buf[128];
	printf("%s\n", g->greet(who, buf, sizeof buf));
	return 0;
}

static int probe(const char *path)
{
	unsigned char head[512], tail[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	ssize_t h = pread(fd, head, sizeof head, 0);
	off_t toff = st.st_size > (off_t)sizeof tail ? st.st_size - (off_t)sizeof tail : 0;
	ssize_t t = pread(fd, tail, sizeof tail, toff);
	close(fd);
	struct lm_probe_input in = {head, h > 0 ? (size_t)h : 0, tail, t > 0 ? (size_t)t : 0,
				    (uint64_t)st.st_size, path};
	struct lm_probe_result res;
	int r = lm_probe(ctx, "file-type", &in, &res);
	if (r < 0) {
		fprintf(stderr, "lazymod-demo: %s: %s (%s)\n", path, lm_strerror(r), lm_errdetail(ctx));
		return 1;
	}
	const struct demo_filetype *ft;
	r = lm_get(ctx, "file-type", res.name, (const void **)&ft);
	printf("%s: %s (score %d, %s)\n", path, r == 0 ? ft->description : res.name, res.score,
	       res.rule);
	return 0;
}

static void maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096], last[4096] = "";
	printf("modules mapped:");
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		char *p = strstr(line, "/lazymod-demo/");
		if (!p || !strcmp(p, last))
			continue;
		snprintf(last, sizeof last, "%s", p);
		p[strcspn(p, "\n")] = 0;
		printf(" %s", strrchr(p, '/') + 1);
		n++;
	}
	printf("%s\n", n ? "" : " none");
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static const char *const dirs[] = {"$ORIGIN/../lib/lazymod-demo", NULL};
	struct lm_options opts = {.dirs = dirs,
				  .iface_major = DEMO_IFACE_MAJOR,
				  .iface_minor = DEMO_IFACE_MINOR,
				  .host = &services};
	int r = lm_context_new(&opts, &ctx);
	if (r < 0) {
		fprintf(stderr, "lazymod-demo: %s (%s)\n", lm_strerror(r), lm_errdetail(NULL));
		return 1;
	}
	int status = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: lazymod-demo list | greet LANG WHO | probe FILE... | maps"
				" [-- COMMAND...]\n");
		status = 2;
	}
	for (int i = 1; i < argc && status != 2; i++) {
		if (!strcmp(argv[i], "--"))
			continue;
		if (!strcmp(argv[i], "list")) {
			printf("features (from the index, nothing loaded):\n");
			lm_list(ctx, NULL, print_feature, NULL);
		} else if (!strcmp(argv[i], "greet") && i + 2 < argc) {
			status |= greet(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!strcmp(argv[i], "probe")) {
			for (i++; i < argc && strcmp(argv[i], "--"); i++)
				status |= probe(argv[i]);
		} else if (!strcmp(argv[i], "maps")) {
			maps();
		} else {
			fprintf(stderr, "lazymod-demo: bad command %s\n", argv[i]);
			status = 2;
		}
	}
	lm_context_unref(ctx);
	return status;
}
