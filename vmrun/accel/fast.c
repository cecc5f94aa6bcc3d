/* SPDX-License-Identifier: MIT */
/*
 * fast.c - vmrun's faster accelerator: each 4 KiB page of guest code is
 * decoded once, on its first execution, and then run from its decoded
 * instructions, straight on from one to the next while control stays in
 * the page. A store into a decoded page decodes the words it changed
 * again, so code that writes code still runs what it wrote, and data
 * beside code costs a decode per store, not the page. Built once per target
 * (-DXLEN=32 or 64) as the module "fast", shipped by its own package.
 */
#include <stdlib.h>

#define LM_MODULE_NAME fast
#include <lazymod/module.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE (1u << PAGE_SHIFT)
#define PAGE_OPS (PAGE_SIZE / 4)

struct rv_cpu;
static void stored(struct rv_cpu *c, uint64_t off, unsigned len);
#define RV_ON_STORE(cpu, off, len) stored((cpu), (off), (len))
#include "rv.h"

struct page {
	struct rv_op op[PAGE_OPS];
};

struct fast {
	struct page **pages; /* per RAM page: its decoding, or NULL */
};

/* A store at RAM offset off: decodes again the words it changed in decoded pages. */
static void stored(struct rv_cpu *c, uint64_t off, unsigned len)
{
	struct fast *f = c->accel;
	for (uint64_t w = off >> 2; w <= (off + len - 1) >> 2; w++) {
		struct page *pg = f->pages[w >> (PAGE_SHIFT - 2)];
		if (pg && c->size - w * 4 >= 4) {
			uint32_t insn;
			memcpy(&insn, c->ram + w * 4, 4);
			pg->op[w & (PAGE_OPS - 1)] = rv_decode(insn);
		}
	}
}

/* The decoding of RAM page p, made now if needed; NULL when out of memory. */
static struct page *decoded(struct fast *f, const struct rv_cpu *c, uint64_t p)
{
	struct page *pg = f->pages[p];
	if (pg)
		return pg;
	if (!(pg = malloc(sizeof *pg)))
		return NULL;
	uint64_t start = p << PAGE_SHIFT;
	for (unsigned i = 0; i < PAGE_OPS; i++) {
		uint32_t w = 0;
		/* A last page cut short by the RAM size decodes as illegal past its end. */
		if (c->size - start >= (uint64_t)(i + 1) * 4)
			memcpy(&w, c->ram + start + (uint64_t)i * 4, 4);
		pg->op[i] = rv_decode(w);
	}
	f->pages[p] = pg;
	return pg;
}

static int fast_loop(struct rv_cpu *c, struct fast *f)
{
	for (;;) {
		uint64_t off = rv_fetch_off(c, c->pc);
		if (off == UINT64_MAX)
			return rv_bad_fetch(c);
		struct page *pg = decoded(f, c, off >> PAGE_SHIFT);
		if (!pg)
			return RV_FAULT(c, "out of memory decoding the page at 0x%" PRIx64,
					(uint64_t)c->pc);
		ureg page_pc = c->pc & ~(ureg)(PAGE_SIZE - 1);
		/* On within the page while pc stays in it, aligned. */
		for (ureg d = c->pc - page_pc; d < PAGE_SIZE && !(d & 3); d = c->pc - page_pc) {
			int st = rv_exec(c, &pg->op[d >> 2]);
			if (st)
				return st;
		}
	}
}

static int fast_run(struct vm_machine *m)
{
	struct fast f = {0};
	struct rv_cpu c;
	rv_init(&c, m, &f);
	f.pages = calloc((m->ram_size + PAGE_SIZE - 1) >> PAGE_SHIFT, sizeof *f.pages);
	if (!f.pages)
		return RV_FAULT(&c, "out of memory for the page table of %" PRIu64 " bytes of RAM",
				m->ram_size);
	int st = fast_loop(&c, &f);
	for (uint64_t p = 0; p < (m->ram_size + PAGE_SIZE - 1) >> PAGE_SHIFT; p++)
		free(f.pages[p]);
	free(f.pages);
	return st;
}

static const struct vm_accel fast = {XLEN, fast_run};

LM_MODULE("1.0", "vmrun accelerator: " RV_TARGET " code decoded once per page", NULL);
LM_INTERFACE(VMRUN_IFACE_MAJOR, VMRUN_IFACE_MINOR);
LM_TARGET(RV_TARGET);
LM_PACKAGE("vmrun-accel-fast");
LM_FEATURE(VMRUN_ACCEL_KIND, "fast", &fast);
