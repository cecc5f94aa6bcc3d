/* SPDX-License-Identifier: MIT */
/*
 * synth-host - the synthetic host of the start-up benchmark, built four
 * ways from this one source (SYNTH_MODE):
 *
 *   eager       every module's code linked in and every module's library a
 *               DT_NEEDED of the executable; every module initialised in main
 *   dlopen-all  every module of ../mods dlopened (RTLD_NOW) and initialised
 *   lazy        a lazymod context over ../mods (its index); nothing loaded
 *   builtin     every module compiled in (so its library is a DT_NEEDED too),
 *               found from the executable's own notes; nothing initialised
 *
 * It takes CLOCK_MONOTONIC first thing in main() and again when ready, and
 * prints both ("main=NS ready=NS") with one write: the driver took t0 on
 * the same clock just before posix_spawn.
 *
 *   synth-host [count|check]
 *
 * count: also the number of shared objects mapped when ready (the loader
 * and libraries, not the executable or the vDSO). check: additionally gets
 * the last module's feature (lazy, builtin), calls it, and counts again.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if SYNTH_LAZY || SYNTH_BUILTIN
#include <lazymod.h>
#else
#include <lazymod/common.h>
extern const struct lm__module_desc *const __start_lm_mods[] __attribute__((weak, visibility("hidden")));
extern const struct lm__module_desc *const __stop_lm_mods[] __attribute__((weak, visibility("hidden")));
#endif

#include "bench.h"

#ifndef SYNTH_N
#error "SYNTH_N: the number of modules"
#endif

static const int services = 1;

static int count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0] && !strstr(info->dlpi_name, "linux-vdso"))
		++*(int *)data;
	return 0;
}

static int count_objects(void)
{
	int n = 0;
	dl_iterate_phdr(count_cb, &n);
	return n;
}

#if SYNTH_LAZY || SYNTH_BUILTIN
static struct lm_context *ctx;

static int ready(void)
{
#if SYNTH_LAZY
	static const char *const dirs[] = {"$ORIGIN/../mods", NULL};
#else
	static const char *const *dirs = NULL;
#endif
	struct lm_options opts = {.dirs = dirs, .iface_major = 1, .iface_minor = 0, .host = &services};
	return lm_context_new(&opts, &ctx) == 0 ? 0 : -1;
}

static int check(void)
{
	if (SYNTH_N == 0)
		return 0;
	char name[32];
	snprintf(name, sizeof name, "m%d", SYNTH_N - 1);
	const struct synth_obj *o;
	int r = lm_get(ctx, "bench", name, (const void **)&o);
	if (r < 0) {
		fprintf(stderr, "synth-host: %s: %s (%s)\n", name, lm_strerror(r), lm_errdetail(ctx));
		return -1;
	}
	return o->id == SYNTH_N - 1 && o->call(1) == SYNTH_N ? 0 : -1;
}
#elif SYNTH_EAGER
static int ready(void)
{
	for (const struct lm__module_desc *const *d = __start_lm_mods; d && d < __stop_lm_mods; d++)
		if ((*d)->init && (*d)->init(&services) < 0)
			return -1;
	return 0;
}

static int check(void)
{
	return __stop_lm_mods - __start_lm_mods == SYNTH_N ? 0 : -1;
}
#elif SYNTH_DLOPEN
static int loaded;

static int ready(void)
{
	char dir[4096];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 16);
	if (n <= 0)
		return -1;
	dir[n] = 0;
	strcpy(strrchr(dir, '/'), "/../mods");
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".so"))
			continue;
		char path[8192], sym[300];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		snprintf(sym, sizeof sym, "lazymod_module_%.*s", (int)(len - 3), de->d_name);
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		const struct lm__module_desc *desc = h ? dlsym(h, sym) : NULL;
		if (!desc || (desc->init && desc->init(&services) < 0)) {
			fprintf(stderr, "synth-host: %s: %s\n", path, h ? "no descriptor" : dlerror());
			r = -1;
		}
		loaded++;
	}
	closedir(d);
	return r;
}

static int check(void)
{
	return loaded == SYNTH_N ? 0 : -1;
}
#else
#error "SYNTH_MODE: one of SYNTH_EAGER, SYNTH_DLOPEN, SYNTH_LAZY, SYNTH_BUILTIN"
#endif

int main(int argc, char **argv)
{
	uint64_t t_main = bench_now();
	int r = ready();
	uint64_t t_ready = bench_now();
	char buf[256];
	int len = snprintf(buf, sizeof buf, "main=%llu ready=%llu", (unsigned long long)t_main,
			   (unsigned long long)t_ready);
	if (argc > 1 && (!strcmp(argv[1], "count") || !strcmp(argv[1], "check")))
		len += snprintf(buf + len, sizeof buf - (size_t)len, " libs=%d", count_objects());
	if (r == 0 && argc > 1 && !strcmp(argv[1], "check")) {
		r = check();
		len += snprintf(buf + len, sizeof buf - (size_t)len, " libs_after_get=%d ok=%d",
				count_objects(), r == 0);
	}
	buf[len++] = '\n';
	if (write(1, buf, (size_t)len) != len)
		return 1;
	return r == 0 ? 0 : 1;
}
