/* SPDX-License-Identifier: MIT */
/*
 * boot.h - loading a kernel ELF and an initrd into guest RAM, as QEMU's
 * virt board does with -bios none.
 */
#ifndef VMRUN_BOOT_H
#define VMRUN_BOOT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Loads the PT_LOAD segments of the ELF image [file, file+len) at their
 * physical addresses into RAM [ram, ram+ram_size) at guest address
 * ram_base. xlen (32 or 64) is the ELF class the target needs. Every field
 * is checked against the image's and RAM's bounds before use. Returns 0
 * with *entry set, or -1 with why describing what is wrong.
 */
int vm_load_elf(const unsigned char *file, size_t len, unsigned xlen, uint8_t *ram,
		uint64_t ram_base, uint64_t ram_size, uint64_t *entry, char *why, size_t whylen);

/*
 * Where the initrd goes, as QEMU puts it: half-way into RAM past the
 * kernel's entry point, at most 128 MiB past it.
 */
uint64_t vm_initrd_addr(uint64_t entry, uint64_t ram_size);

#endif /* VMRUN_BOOT_H */
