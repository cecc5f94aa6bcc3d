/* SPDX-License-Identifier: MIT */
/*
 * host.c - a host built outside the lazymod tree: loads the greeting named
 * by argv[1] from "$ORIGIN/../lib/consumer" (or the directory argv[2]),
 * prints it, then probes the bytes of argv[3] as a "file-type".
 *
 *   host FEATURE [DIR [BYTES]]
 */
#include <lazymod.h>
#include <stdio.h>
#include <string.h>

#include "consumer.h"

int main(int argc, char **argv)
{
	const char *dirs[] = {argc > 2 ? argv[2] : "$ORIGIN/../lib/consumer", NULL};
	struct lm_options opts = {0};
	opts.dirs = dirs;
	opts.iface_major = 1;
	opts.target = "consumer";
	struct lm_context *ctx;
	if (argc < 2 || lm_context_new(&opts, &ctx) < 0)
		return 2;
	const struct greeting *g;
	int r = lm_get(ctx, "greeting", argv[1], (const void **)&g);
	if (r < 0) {
		fprintf(stderr, "host: %s: %s\n", lm_strerror(r), lm_errdetail(ctx));
		lm_context_unref(ctx);
		return 1;
	}
	printf("%s\n", g->text());
	if (argc > 3) {
		struct lm_probe_input in = {(const unsigned char *)argv[3], strlen(argv[3]), NULL, 0,
					    strlen(argv[3]), NULL};
		struct lm_probe_result res;
		r = lm_probe(ctx, "file-type", &in, &res);
		if (r < 0)
			fprintf(stderr, "host: probe: %s\n", lm_strerror(r));
		else
			printf("%s %d\n", res.name, res.score);
	}
	lm_context_unref(ctx);
	return r < 0;
}
