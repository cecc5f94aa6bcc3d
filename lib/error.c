/* SPDX-License-Identifier: MIT */
/*
 * error.c - error names and messages (from the one table in lazymod.h) and
 * the per-thread detail of the last failure.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lazymod-private.h"

struct errinfo {
	const char *name, *msg;
};
static const struct errinfo errors[] = {
#define LM__ERRTAB(name, num, msg) [num] = {"LM_E_" #name, msg},
	LM__ERRORS(LM__ERRTAB)
#undef LM__ERRTAB
};

static const struct errinfo *lookup(int err)
{
	if (err >= 0 || -err >= (int)(sizeof errors / sizeof errors[0]) || !errors[-err].name)
		return NULL;
	return &errors[-err];
}

LM_EXPORT const char *lm_strerror(int err)
{
	if (err == 0)
		return "success";
	const struct errinfo *e = lookup(err);
	return e ? e->msg : "unknown error";
}

LM_EXPORT const char *lm_errname(int err)
{
	if (err == 0)
		return "LM_OK";
	const struct errinfo *e = lookup(err);
	return e ? e->name : NULL;
}

static _Thread_local char detail[1024];

int lm__fail(int err, const char *fmt, ...)
{
	/* Through a copy: callers may pass the detail itself as an argument. */
	char buf[sizeof detail];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	memcpy(detail, buf, sizeof detail);
	return err;
}

const char *lm__detail(void)
{
	return detail;
}

LM_EXPORT const char *lm_errdetail(const struct lm_context *ctx)
{
	(void)ctx;
	return detail;
}
