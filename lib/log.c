/* SPDX-License-Identifier: MIT */
/*
 * log.c - logging through the host's callback, or to stderr when
 * LAZYMOD_DEBUG is set (read with secure_getenv: ignored under AT_SECURE).
 * Quiet by default: the library never prints on its own.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lazymod-private.h"

static void log_stderr(void *data, int priority, const char *file, int line, const char *fn,
		       const char *fmt, va_list args)
{
	(void)data, (void)file, (void)line, (void)fn;
	static const char *const names[] = {[LM_LOG_ERR] = "error", [LM_LOG_WARNING] = "warning",
					    [LM_LOG_INFO] = "info", [LM_LOG_DEBUG] = "debug"};
	const char *p = priority >= 0 && priority <= LM_LOG_DEBUG && names[priority]
				? names[priority]
				: "log";
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, args);
	fprintf(stderr, "lazymod: %s: %s\n", p, msg);
}

void lm__log_init(struct lm__log *log, lm_log_fn fn, void *data)
{
	const char *env = secure_getenv("LAZYMOD_DEBUG");
	log->fn = fn;
	log->data = data;
	log->priority = fn ? LM_LOG_WARNING : -1;
	if (env && *env && strcmp(env, "0") != 0) {
		log->priority = LM_LOG_DEBUG;
		if (!fn)
			log->fn = log_stderr;
	}
}

void lm__log_emit(const struct lm__log *log, int priority, const char *file, int line,
		  const char *fn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log->fn(log->data, priority, file, line, fn, fmt, ap);
	va_end(ap);
}

uint64_t lm__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
