/* SPDX-License-Identifier: MIT */
/*
 * gstpeer - the GStreamer registry against a lazymod index of the same size.
 * Built twice from this file by bench/sections/70-gstreamer.sh: gstpeer-gst
 * (-DPEER_GST, linked against gstreamer-1.0 only) and gstpeer-lm (linked
 * against liblazymod only), so that neither side maps the other's libraries.
 *
 *   gstpeer-gst count CACHE               plugins= features= of the registry
 *   gstpeer-gst element CACHE FACTORY     gst_init, then make one element
 *   gstpeer-gst rebuild CACHE             delete the registry, then gst_init
 *   gstpeer-lm  get DIR KIND NAME         lm_context_new over DIR, then lm_get
 *
 * CACHE becomes XDG_CACHE_HOME (so the registry is CACHE/gstreamer-1.0/
 * registry.*.bin, never the user's). Each prints one line for runcells:
 * main= (CLOCK_MONOTONIC at main), ready= (when done), op= (ready - the
 * clock just before the first call), and with a last argument "count"
 * objs= (objects mapped, from dl_iterate_phdr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifdef PEER_GST
#include <gst/gst.h>
#else
#include <lazymod.h>
#endif

static int count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0] && !strstr(info->dlpi_name, "linux-vdso"))
		++*(int *)data;
	return 0;
}

static int say(uint64_t main_ns, uint64_t t0, uint64_t t1, int count)
{
	int objs = 0;
	if (count)
		dl_iterate_phdr(count_cb, &objs);
	char extra[32] = "";
	if (count)
		snprintf(extra, sizeof extra, " objs=%d", objs);
	printf("main=%llu ready=%llu op=%llu%s\n", (unsigned long long)main_ns,
	       (unsigned long long)t1, (unsigned long long)(t1 - t0), extra);
	return fflush(stdout) == 0 ? 0 : 1;
}

#ifdef PEER_GST
static gboolean any_feature(GstPluginFeature *f, gpointer data)
{
	(void)f;
	(void)data;
	return TRUE;
}

static void remove_registry(const char *cache)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/gstreamer-1.0", cache);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (!strncmp(e->d_name, "registry.", 9) && n > 4 && !strcmp(e->d_name + n - 4, ".bin")) {
			char path[8192];
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	uint64_t m = bench_now();
	if (argc < 3) {
		fprintf(stderr, "usage: gstpeer-gst count|element|rebuild CACHE [FACTORY]\n");
		return 2;
	}
	setenv("XDG_CACHE_HOME", argv[2], 1);
	if (!strcmp(argv[1], "count")) {
		gst_init(NULL, NULL);
		GstRegistry *reg = gst_registry_get();
		GList *p = gst_registry_get_plugin_list(reg);
		GList *f = gst_registry_feature_filter(reg, any_feature, FALSE, NULL);
		printf("plugins=%u features=%u\n", g_list_length(p), g_list_length(f));
		gst_plugin_list_free(p);
		gst_plugin_feature_list_free(f);
		return 0;
	}
	if (!strcmp(argv[1], "rebuild")) {
		remove_registry(argv[2]);
		uint64_t t0 = bench_now();
		gst_init(NULL, NULL);
		uint64_t t1 = bench_now();
		return say(m, t0, t1, argc > 3);
	}
	if (!strcmp(argv[1], "element") && argc >= 4) {
		uint64_t t0 = bench_now();
		gst_init(NULL, NULL);
		GstElement *e = gst_element_factory_make(argv[3], NULL);
		uint64_t t1 = bench_now();
		if (!e) {
			fprintf(stderr, "gstpeer: no element %s\n", argv[3]);
			return 1;
		}
		return say(m, t0, t1, argc > 4);
	}
	fprintf(stderr, "gstpeer-gst: unknown command %s\n", argv[1]);
	return 2;
}
#else
static const int services = 1;

int main(int argc, char **argv)
{
	uint64_t m = bench_now();
	if (argc < 5 || strcmp(argv[1], "get")) {
		fprintf(stderr, "usage: gstpeer-lm get DIR KIND NAME\n");
		return 2;
	}
	const char *dirs[] = {argv[2], NULL};
	struct lm_options opts = {.dirs = dirs, .iface_major = 1, .host = &services};
	struct lm_context *ctx;
	const void *obj;
	uint64_t t0 = bench_now();
	int r = lm_context_new(&opts, &ctx);
	if (r >= 0)
		r = lm_get(ctx, argv[3], argv[4], &obj);
	uint64_t t1 = bench_now();
	if (r < 0) {
		fprintf(stderr, "gstpeer-lm: %s/%s: %s\n", argv[3], argv[4], lm_strerror(r));
		return 1;
	}
	return say(m, t0, t1, argc > 5);
}
#endif
