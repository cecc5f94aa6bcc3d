/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
/*
 * fuzz-elf - reading a module file: lm__elf_read (ELF header, program
 * headers, every PT_NOTE segment, the GNU build-id and the manifests) and
 * lm__elf_build_id, on an arbitrary file held in a memfd.
 *
 * As in a directory scan, the file is read after another one: a small valid
 * module made at start-up. A read that fails must leave the set exactly as
 * the first file left it; a read that succeeds may add duplicates, and the
 * set is then built into an index, which must open and verify.
 */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-lib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1, good_fd = -1;

static void fill(int f, const void *data, size_t size)
{
	if (ftruncate(f, 0) < 0) {
		perror("fuzz-elf: ftruncate");
		exit(1);
	}
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(f, (const char *)data + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror("fuzz-elf: pwrite");
			exit(1);
		}
		done += (size_t)n;
	}
}

/* A minimal native ELF file: header, one PT_NOTE program header, notes. */
static void make_good(int f)
{
	struct fuzz_notes n = {.len = 0};
	fuzz_lm_module(&n, "good", "1.0");
	fuzz_lm_interface(&n, "good", 1, 0);
	fuzz_lm_feature(&n, LM_NOTE_FEATURE, "good", "block-format", "good");
	fuzz_lm_rule(&n, "good", "block-format", "good", LM_RULE_MAGIC, 0, "GOOD", 4, NULL, 100);
	fuzz_lm_name(&n, LM_NOTE_DEPENDS, "good", "zlib");
	static const unsigned char id[20] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6,
					     7,    8,    9,    10,   11, 12, 13, 14, 15, 16};
	fuzz_note(&n, "GNU", NT_GNU_BUILD_ID, id, sizeof id);

	unsigned char img[sizeof(ElfW(Ehdr)) + sizeof(ElfW(Phdr)) + sizeof n.buf];
	ElfW(Ehdr) eh = {.e_type = ET_DYN, .e_version = EV_CURRENT};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
	eh.e_ident[EI_DATA] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_phoff = sizeof eh;
	eh.e_phentsize = sizeof(ElfW(Phdr));
	eh.e_phnum = 1;
	eh.e_ehsize = sizeof eh;
	ElfW(Phdr) ph = {.p_type = PT_NOTE, .p_offset = sizeof eh + sizeof ph, .p_align = 4};
	ph.p_filesz = ph.p_memsz = n.len;
	memcpy(img, &eh, sizeof eh);
	memcpy(img + sizeof eh, &ph, sizeof ph);
	memcpy(img + sizeof eh + sizeof ph, n.buf, n.len);
	fill(f, img, sizeof eh + sizeof ph + n.len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	good_fd = memfd_create("fuzz-elf-good", MFD_CLOEXEC);
	if (fd < 0 || good_fd < 0) {
		perror("fuzz-elf: memfd_create");
		exit(1);
	}
	make_good(good_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm__mset set = {0};
	char why[256] = "";
	int found = 0;
	if (lm__elf_read(&set, good_fd, "/fuzz/mods/good.so", &found, why, sizeof why) < 0 ||
	    !found || set.nmods != 1)
		fuzz_die("the fuzzer's own valid module does not read: %s", why);

	fill(fd, data, size);
	size_t nmods = set.nmods, nfeats = set.nfeats, nrules = set.nrules, ndeps = set.ndeps;
	int r = lm__elf_read(&set, fd, "/fuzz/mods/input.so", &found, why, sizeof why);
	if (r == 0 && found != (set.nmods > nmods))
		fuzz_die("lm__elf_read says found=%d with %zu new modules", found,
			 set.nmods - nmods);
	if (r < 0 && (set.nmods != nmods || set.nfeats != nfeats || set.nrules != nrules ||
		      set.ndeps != ndeps))
		fuzz_die("a failed lm__elf_read (%s: %s) left modules, features, rules or "
			 "dependencies behind",
			 lm_errname(r), why);
	if (r < 0 && memchr(why, 0, sizeof why) == NULL)
		fuzz_die("the reason of a failure is not NUL-terminated");
	fuzz_build_and_check(&set, "/fuzz/mods");

	uint8_t id[64];
	uint8_t idlen = 0;
	if (lm__elf_build_id(fd, id, &idlen, why, sizeof why) == 0 && idlen > sizeof id)
		fuzz_die("build-id of %u bytes", idlen);
	lm__mset_free(&set);
	return 0;
}
