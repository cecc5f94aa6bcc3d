/* SPDX-License-Identifier: MIT */
/*
 * interp.c - vmrun's plain interpreter: fetches, decodes and executes one
 * instruction at a time. Built once per target (-DXLEN=32 or 64) as the
 * module "interp"; each build declares its target.
 */
#define LM_MODULE_NAME interp
#include <lazymod/module.h>

#include "rv.h"

/* Runs until the guest exits or faults. */
static int interp_run(struct vm_machine *m)
{
	struct rv_cpu c;
	rv_init(&c, m, NULL);
	for (;;) {
		uint64_t off = rv_fetch_off(&c, c.pc);
		if (off == UINT64_MAX)
			return rv_bad_fetch(&c);
		uint32_t w;
		memcpy(&w, c.ram + off, 4);
		struct rv_op op = rv_decode(w);
		int st = rv_exec(&c, &op);
		if (st)
			return st;
	}
}

static const struct vm_accel interp = {XLEN, interp_run};

LM_MODULE("1.0", "vmrun accelerator: a plain " RV_TARGET " interpreter", NULL);
LM_INTERFACE(VMRUN_IFACE_MAJOR, VMRUN_IFACE_MINOR);
LM_TARGET(RV_TARGET);
LM_PACKAGE("vmrun");
LM_FEATURE(VMRUN_ACCEL_KIND, "interp", &interp);
