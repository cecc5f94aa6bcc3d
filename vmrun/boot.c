/* SPDX-License-Identifier: MIT */
/*
 * boot.c - the kernel loader: an ELF executable for RISC-V of the target's
 * class, its PT_LOAD segments copied to their physical addresses. The file
 * is hostile input: every offset and size is checked, without overflow,
 * before anything is read or written.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -1)

/* The fields of an ELF header or program header both classes have. */
struct hdr {
	uint64_t entry, phoff;
	unsigned phentsize, phnum, type, machine;
};
struct seg {
	uint64_t type, offset, paddr, filesz, memsz;
};

static int read_hdr(const unsigned char *file, size_t len, unsigned xlen, struct hdr *h,
		    char *why, size_t whylen)
{
	if (len < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG) != 0)
		return WHY("not an ELF file");
	unsigned cls = file[EI_CLASS];
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return WHY("ELF class %u is neither 32- nor 64-bit", cls);
	if ((cls == ELFCLASS32) != (xlen == 32))
		return WHY("a %d-bit ELF file, but target riscv%u needs a %u-bit one",
			   cls == ELFCLASS32 ? 32 : 64, xlen, xlen);
	if (file[EI_DATA] != ELFDATA2LSB)
		return WHY("not a little-endian ELF file");
	if (xlen == 32) {
		Elf32_Ehdr e;
		if (len < sizeof e)
			return WHY("truncated ELF header (%zu bytes)", len);
		memcpy(&e, file, sizeof e);
		*h = (struct hdr){e.e_entry, e.e_phoff, e.e_phentsize, e.e_phnum, e.e_type,
				  e.e_machine};
		if (h->phentsize != sizeof(Elf32_Phdr) && h->phnum)
			return WHY("program header entries of %u bytes, expected %zu", h->phentsize,
				   sizeof(Elf32_Phdr));
	} else {
		Elf64_Ehdr e;
		if (len < sizeof e)
			return WHY("truncated ELF header (%zu bytes)", len);
		memcpy(&e, file, sizeof e);
		*h = (struct hdr){e.e_entry, e.e_phoff, e.e_phentsize, e.e_phnum, e.e_type,
				  e.e_machine};
		if (h->phentsize != sizeof(Elf64_Phdr) && h->phnum)
			return WHY("program header entries of %u bytes, expected %zu", h->phentsize,
				   sizeof(Elf64_Phdr));
	}
	if (h->machine != EM_RISCV)
		return WHY("ELF machine %u, not RISC-V (%u)", h->machine, EM_RISCV);
	if (h->type != ET_EXEC)
		return WHY("ELF type %u, not an executable", h->type);
	if (h->phoff > len || (uint64_t)h->phnum * h->phentsize > len - h->phoff)
		return WHY("program headers (%u at offset %llu) run past the end of the file",
			   h->phnum, (unsigned long long)h->phoff);
	return 0;
}

static struct seg read_seg(const unsigned char *file, const struct hdr *h, unsigned xlen,
			   unsigned i)
{
	const unsigned char *p = file + h->phoff + (size_t)i * h->phentsize;
	if (xlen == 32) {
		Elf32_Phdr ph;
		memcpy(&ph, p, sizeof ph);
		return (struct seg){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz};
	}
	Elf64_Phdr ph;
	memcpy(&ph, p, sizeof ph);
	return (struct seg){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz};
}

int vm_load_elf(const unsigned char *file, size_t len, unsigned xlen, uint8_t *ram,
		uint64_t ram_base, uint64_t ram_size, uint64_t *entry, char *why, size_t whylen)
{
	struct hdr h;
	if (read_hdr(file, len, xlen, &h, why, whylen) < 0)
		return -1;
	unsigned loaded = 0;
	/* Checked first, copied after: a bad segment leaves RAM untouched. */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < h.phnum; i++) {
			struct seg s = read_seg(file, &h, xlen, i);
			if (s.type != PT_LOAD || s.memsz == 0)
				continue;
			if (pass == 1) {
				memcpy(ram + (s.paddr - ram_base), file + s.offset, s.filesz);
				loaded++;
				continue;
			}
			if (s.filesz > s.memsz)
				return WHY("segment %u: %llu bytes in the file but %llu in memory", i,
					   (unsigned long long)s.filesz, (unsigned long long)s.memsz);
			if (s.offset > len || s.filesz > len - s.offset)
				return WHY("segment %u (%llu bytes at offset %llu) runs past the end of "
					   "the file",
					   i, (unsigned long long)s.filesz, (unsigned long long)s.offset);
			if (s.paddr < ram_base || s.paddr - ram_base > ram_size ||
			    s.memsz > ram_size - (s.paddr - ram_base))
				return WHY("segment %u at 0x%llx..0x%llx lies outside RAM "
					   "(0x%llx..0x%llx)",
					   i, (unsigned long long)s.paddr,
					   (unsigned long long)(s.paddr + s.memsz),
					   (unsigned long long)ram_base,
					   (unsigned long long)(ram_base + ram_size));
		}
	if (!loaded)
		return WHY("no loadable segment");
	if (h.entry < ram_base || h.entry - ram_base >= ram_size)
		return WHY("entry point 0x%llx lies outside RAM", (unsigned long long)h.entry);
	*entry = h.entry;
	return 0;
}

uint64_t vm_initrd_addr(uint64_t entry, uint64_t ram_size)
{
	uint64_t half = ram_size / 2, cap = 128ull << 20;
	return entry + (half < cap ? half : cap);
}
