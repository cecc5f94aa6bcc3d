/* SPDX-License-Identifier: MIT */
/*
 * vmrun.c - a small RISC-V machine emulator, one executable for every
 * target:
 *
 *   vmrun -target riscv32|riscv64 -accel A[:B...] -kernel ELF
 *         [-initrd FILE] [-m SIZE] [-stats]
 *
 * The machine is laid out as QEMU's virt board (RAM at 0x80000000, an
 * ns16550a UART at 0x10000000, the SiFive test finisher at 0x100000), so a
 * bare-metal program for `qemu-system-riscvNN -M virt -bios none -kernel`
 * that uses only these runs unchanged. The accelerators that run the guest
 * are lazymod modules, one build per target, found in ../lib/vmrun beside
 * the executable: the context's target picks the build, and only the
 * chosen accelerator's build for that target is ever loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lazymod.h>

#include "boot.h"
#include "machine.h"

#define MAX_RAM_32 (2ull << 30)  /* RAM ends at the top of the 32-bit space */
#define MAX_RAM_64 (64ull << 30) /* a sanity bound, not a board limit */

static const char *prog = "vmrun";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s -target riscv32|riscv64 -accel NAME[:NAME...] -kernel ELF\n"
		"          [-initrd FILE] [-m SIZE] [-stats]\n"
		"Runs a bare-metal RISC-V program on a machine laid out as QEMU's virt board.\n"
		"  -accel   accelerators to try in order; the first installed that works runs\n"
		"  -m       RAM size, in MiB or with a K, M or G suffix (default 128M)\n"
		"  -stats   print the guest's instruction count and speed on stderr\n",
		prog);
}

/* ---- devices ---------------------------------------------------------------- */

struct board {
	FILE *console;
};

/* The ns16550a's registers as far as a polled console needs them. */
static int uart(struct board *b, uint64_t reg, int is_store, uint64_t *val)
{
	if (is_store) {
		if (reg == 0) /* THR: the byte goes out at once */
			putc((int)(*val & 0xff), b->console);
		return VM_CONTINUE; /* IER, FCR, LCR, MCR, ...: nothing to set up */
	}
	*val = reg == 5 ? 0x60 : 0; /* LSR: transmitter empty and idle, nothing received */
	return VM_CONTINUE;
}

static int device(struct vm_machine *m, uint64_t addr, unsigned size, int is_store, uint64_t *val)
{
	struct board *b = m->host;
	if (addr >= VM_UART_BASE && addr - VM_UART_BASE < VM_UART_SIZE)
		return uart(b, addr - VM_UART_BASE, is_store, val);
	if (addr >= VM_TEST_BASE && addr - VM_TEST_BASE < VM_TEST_SIZE) {
		if (!is_store) {
			*val = 0;
			return VM_CONTINUE;
		}
		if (addr != VM_TEST_BASE || size < 4)
			return VM_CONTINUE;
		unsigned status = *val & 0xffff, code = (*val >> 16) & 0xffff;
		if (status == 0x5555 || status == 0x3333) {
			m->exit_code = status == 0x5555 ? 0 : (int)code;
			return VM_EXIT;
		}
		return VM_CONTINUE; /* other commands (reset) are not modelled */
	}
	snprintf(m->why, sizeof m->why, "%u-byte %s 0x%" PRIx64 ": no RAM or device there", size,
		 is_store ? "store to" : "load from", addr);
	return VM_FAULT;
}

/* ---- set-up ----------------------------------------------------------------- */

/* Parses a RAM size as QEMU's -m does: MiB, or a K/M/G suffix. 0 if bad. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	unsigned shift = 20;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return 0;
		}
		if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
			return 0;
	}
	if (n > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)n << shift;
}

/* Maps a whole file read-only; returns its address or NULL with a message. */
static void *map_file(const char *what, const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: %s %s: not a regular file\n", prog, what, path);
		close(fd);
		return NULL;
	}
	*len = (size_t)st.st_size;
	void *p = *len ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : (void *)"";
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, what, path, strerror(errno));
		return NULL;
	}
	return p;
}

/*
 * Finds the first accelerator of the colon-separated list that is
 * installed for the target and loads. Prints why each one could not be
 * used when none can. Returns it or NULL.
 */
static const struct vm_accel *pick_accel(struct lm_context *ctx, const char *list,
					 const char *target, unsigned xlen)
{
	char *names = strdup(list), *save = NULL;
	const struct vm_accel *accel = NULL;
	char reasons[4096] = "";
	for (char *n = names ? strtok_r(names, ":", &save) : NULL; n && !accel;
	     n = strtok_r(NULL, ":", &save)) {
		const void *obj = NULL;
		int r = lm_get(ctx, VMRUN_ACCEL_KIND, n, &obj);
		size_t used = strlen(reasons);
		if (r == 0 && ((const struct vm_accel *)obj)->xlen == xlen) {
			accel = obj;
		} else if (r == 0) {
			snprintf(reasons + used, sizeof reasons - used,
				 "\n  %s: its %s build runs %u-bit code", n, target,
				 ((const struct vm_accel *)obj)->xlen);
		} else if (r == LM_E_NOTFOUND && !strstr(lm_errdetail(ctx), "package")) {
			/* Not in the index at all: accelerators ship as vmrun-accel-NAME. */
			snprintf(reasons + used, sizeof reasons - used,
				 "\n  %s: not installed (accelerator %s ships in package vmrun-accel-%s)",
				 n, n, n);
		} else {
			snprintf(reasons + used, sizeof reasons - used, "\n  %s: %s (%s)", n,
				 lm_strerror(r), lm_errdetail(ctx));
		}
	}
	if (!names)
		fprintf(stderr, "%s: out of memory\n", prog);
	else if (!accel)
		fprintf(stderr, "%s: no accelerator of '%s' can run %s:%s\n", prog, list, target,
			reasons);
	free(names);
	return accel;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *target = NULL, *accels = NULL, *kernel = NULL, *initrd = NULL, *mem = "128M";
	int stats = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **opt = !strcmp(a, "-target") ? &target
				   : !strcmp(a, "-accel") ? &accels
				   : !strcmp(a, "-kernel") ? &kernel
				   : !strcmp(a, "-initrd") ? &initrd
				   : !strcmp(a, "-m")	   ? &mem
							   : NULL;
		if (opt && i + 1 < argc) {
			*opt = argv[++i];
		} else if (!strcmp(a, "-stats")) {
			stats = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "-help") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, opt ? "%s: %s needs a value\n" : "%s: unknown option %s\n", prog,
				a);
			usage(stderr);
			return 2;
		}
	}
	if (!target || !accels || !kernel) {
		fprintf(stderr, "%s: -target, -accel and -kernel are required\n", prog);
		usage(stderr);
		return 2;
	}
	unsigned xlen = !strcmp(target, "riscv32") ? 32 : !strcmp(target, "riscv64") ? 64 : 0;
	if (!xlen) {
		fprintf(stderr, "%s: unknown target '%s' (riscv32 or riscv64)\n", prog, target);
		return 2;
	}
	uint64_t ram_size = parse_size(mem);
	uint64_t max = xlen == 32 ? MAX_RAM_32 : MAX_RAM_64;
	if (!ram_size || ram_size % 4096 || ram_size > max) {
		fprintf(stderr, "%s: bad RAM size '%s' (a multiple of 4 KiB, at most %" PRIu64 " MiB)\n",
			prog, mem, max >> 20);
		return 2;
	}

	/* The accelerator first: a run that cannot start should not map anything. */
	static const char *const dirs[] = {"$ORIGIN/../lib/vmrun", NULL};
	struct lm_options o = {
		.dirs = dirs,
		.iface_major = VMRUN_IFACE_MAJOR,
		.iface_minor = VMRUN_IFACE_MINOR,
		.target = target,
	};
	struct lm_context *ctx = NULL;
	int r = lm_context_new(&o, &ctx);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", prog, lm_strerror(r));
		return 1;
	}
	int status = 1;
	const struct vm_accel *accel = pick_accel(ctx, accels, target, xlen);
	uint8_t *ram = MAP_FAILED;
	size_t klen = 0, ilen = 0;
	const unsigned char *kfile = NULL, *ifile = NULL;
	if (!accel)
		goto out;
	ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (ram == MAP_FAILED) {
		fprintf(stderr, "%s: %" PRIu64 " MiB of RAM: %s\n", prog, ram_size >> 20,
			strerror(errno));
		goto out;
	}
	kfile = map_file("kernel", kernel, &klen);
	if (!kfile)
		goto out;
	uint64_t entry;
	char why[256];
	if (vm_load_elf(kfile, klen, xlen, ram, VM_RAM_BASE, ram_size, &entry, why, sizeof why) < 0) {
		fprintf(stderr, "%s: kernel %s: %s\n", prog, kernel, why);
		goto out;
	}
	struct vm_machine m = {.ram = ram, .ram_base = VM_RAM_BASE, .ram_size = ram_size,
			       .pc = entry, .device = device};
	struct board board = {stdout};
	m.host = &board;
	if (initrd) {
		ifile = map_file("initrd", initrd, &ilen);
		if (!ifile)
			goto out;
		uint64_t at = vm_initrd_addr(entry, ram_size), end = VM_RAM_BASE + ram_size;
		if (at >= end || ilen > end - at) {
			fprintf(stderr,
				"%s: initrd %s: %zu bytes do not fit in RAM at 0x%" PRIx64
				" (RAM ends at 0x%" PRIx64 ")\n",
				prog, initrd, ilen, at, end);
			goto out;
		}
		memcpy(ram + (at - VM_RAM_BASE), ifile, ilen);
		m.x[12] = at; /* a2, a3: where the initrd is, and its size */
		m.x[13] = ilen;
	}
	double t0 = now();
	r = accel->run(&m);
	double t1 = now();
	fflush(stdout);
	if (stats)
		fprintf(stderr, "%s: %" PRIu64 " instructions in %.6f s: %.1f million per second\n",
			prog, m.instructions, t1 - t0, m.instructions / (t1 - t0) / 1e6);
	if (r == VM_EXIT) {
		status = m.exit_code;
	} else {
		fprintf(stderr, "%s: guest stopped at pc 0x%" PRIx64 ": %s\n", prog, m.stop_pc, m.why);
		status = 1;
	}
out:
	if (ifile && ilen)
		munmap((void *)ifile, ilen);
	if (kfile && klen)
		munmap((void *)kfile, klen);
	if (ram != MAP_FAILED)
		munmap(ram, ram_size);
	lm_context_unref(ctx);
	return status;
}
