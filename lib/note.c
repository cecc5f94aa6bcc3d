/* SPDX-License-Identifier: MIT */
/*
 * note.c - reading manifests from ELF notes: from a module file (by its
 * program headers, with pread: no dlopen, no module code run), from the
 * running executable's own mapped notes (built-in modules), and from every
 * module of a directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazymod-private.h"

#define MAX_NOTES_SIZE (1u << 20) /* all notes of one file */
#define MAX_PHNUM 4096

void lm__mset_free(struct lm__mset *set)
{
	for (size_t i = 0; i < set->nmods; i++)
		free(set->mods[i].path);
	for (size_t i = 0; i < set->nbufs; i++)
		free(set->bufs[i]);
	free(set->mods);
	free(set->feats);
	free(set->deps);
	free(set->targets);
	free(set->probes);
	free(set->rules);
	free(set->bufs);
	memset(set, 0, sizeof *set);
}

/* Next NUL-terminated string in [*p, end), or NULL. */
static const char *next_str(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *nul = memchr(*p, 0, (size_t)(end - *p));
	if (!nul)
		return NULL;
	const char *s = (const char *)*p;
	*p = nul + 1;
	return s;
}

static bool valid_module_name(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!(s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9')))
			return false;
	return n > 0 && n <= LM__NAME_MAX;
}

/* The module named `name` among those this file added (from `first`), added if new. */
static int module_for(struct lm__mset *set, size_t first, const char *name, const char *path,
		      bool builtin, uint32_t *idx)
{
	for (size_t i = first; i < set->nmods; i++)
		if (!strcmp(set->mods[i].name, name)) {
			*idx = (uint32_t)i;
			return 0;
		}
	if (lm__grow((void **)&set->mods, &set->capmods, set->nmods, sizeof *set->mods) < 0)
		return LM_E_NOMEM;
	struct lm__mmod *m = &set->mods[set->nmods];
	memset(m, 0, sizeof *m);
	m->name = name;
	m->version = m->description = m->package = NULL;
	m->builtin = builtin;
	m->order = (uint32_t)set->nmods;
	if (path && !(m->path = lm__strdup(path)))
		return LM_E_NOMEM;
	*idx = (uint32_t)set->nmods++;
	return 0;
}

static int add_item(struct lm__mitem **arr, size_t *n, size_t *cap, uint32_t mod, const char *a,
		    const char *b)
{
	if (lm__grow((void **)arr, cap, *n, sizeof **arr) < 0)
		return LM_E_NOMEM;
	(*arr)[(*n)++] = (struct lm__mitem){mod, a, b};
	return 0;
}

#define BAD(...) (snprintf(why, whylen, __VA_ARGS__), LM_E_BADMODULE)

/* Parses one lazymod note's descriptor. */
static int parse_desc(struct lm__mset *set, uint32_t type, const unsigned char *d, size_t dlen,
		      size_t first, const char *path, bool builtin, char *why, size_t whylen)
{
	const unsigned char *p = d, *end = d + dlen;
	size_t fixed = 0;
	switch (type) {
	case LM_NOTE_MODULE:
	case LM_NOTE_FEATURE:
	case LM_NOTE_INTERFACE:
		fixed = 4;
		break;
	case LM_NOTE_RULE:
		fixed = 16;
		break;
	case LM_NOTE_DEPENDS:
	case LM_NOTE_CODEPROBE:
	case LM_NOTE_TARGET:
	case LM_NOTE_PACKAGE:
		break;
	default:
		return 0; /* a newer note type: not ours to judge */
	}
	if (dlen < fixed)
		return BAD("note type %#x too short (%zu bytes)", (unsigned)type, dlen);
	p += fixed;
	const char *mod = next_str(&p, end);
	if (!mod || !valid_module_name(mod))
		return BAD("note type %#x: missing or invalid module name", (unsigned)type);
	uint32_t mi;
	int r = module_for(set, first, mod, path, builtin, &mi);
	if (r < 0)
		return r;
	struct lm__mmod *m = &set->mods[mi];
	const char *a = NULL, *b = NULL, *c = NULL;

	switch (type) {
	case LM_NOTE_MODULE:
		a = next_str(&p, end);
		b = a ? next_str(&p, end) : NULL;
		if (!b)
			return BAD("module %s: truncated LM_MODULE note", mod);
		if (m->version)
			return BAD("module %s: more than one LM_MODULE note", mod);
		m->version = a;
		m->description = b;
		return 0;
	case LM_NOTE_INTERFACE: {
		uint16_t v[2];
		memcpy(v, d, 4);
		if (m->has_iface)
			return BAD("module %s: more than one LM_INTERFACE note", mod);
		m->iface_major = v[0];
		m->iface_minor = v[1];
		m->has_iface = true;
		return 0;
	}
	case LM_NOTE_PACKAGE:
		a = next_str(&p, end);
		if (!a)
			return BAD("module %s: truncated LM_PACKAGE note", mod);
		m->package = a;
		return 0;
	case LM_NOTE_DEPENDS:
	case LM_NOTE_TARGET:
		a = next_str(&p, end);
		if (!a || !*a || strlen(a) > LM__NAME_MAX)
			return BAD("module %s: bad %s note", mod,
				   type == LM_NOTE_DEPENDS ? "LM_DEPENDS" : "LM_TARGET");
		if (type == LM_NOTE_DEPENDS && !valid_module_name(a))
			return BAD("module %s: dependency \"%s\" is not a module name", mod, a);
		return type == LM_NOTE_DEPENDS
			       ? add_item(&set->deps, &set->ndeps, &set->capdeps, mi, a, NULL)
			       : add_item(&set->targets, &set->ntargets, &set->captargets, mi, a, NULL);
	case LM_NOTE_FEATURE:
	case LM_NOTE_CODEPROBE:
	case LM_NOTE_RULE:
		a = next_str(&p, end);
		b = a ? next_str(&p, end) : NULL;
		if (!b)
			return BAD("module %s: truncated feature note", mod);
		if (lm__check_name("kind", a) < 0 || lm__check_name("name", b) < 0)
			return BAD("module %s: invalid feature %s/%s", mod, a, b);
		if (type == LM_NOTE_FEATURE)
			return add_item(&set->feats, &set->nfeats, &set->capfeats, mi, a, b);
		if (type == LM_NOTE_CODEPROBE)
			return add_item(&set->probes, &set->nprobes, &set->capprobes, mi, a, b);
		break;
	}

	/* A declarative rule: offset, length, type, score, then bytes and mask. */
	uint32_t lo, hi, len;
	memcpy(&lo, d, 4);
	memcpy(&hi, d + 4, 4);
	memcpy(&len, d + 8, 4);
	uint8_t rtype = d[12], score = d[13], has_mask = d[14];
	if (rtype < LM_RULE_MAGIC || rtype > LM_RULE_ANY)
		return BAD("module %s: rule of unknown type %u", mod, rtype);
	if (score < 1 || score > 100)
		return BAD("module %s: rule score %u outside 1..100", mod, score);
	if (len > LM__MAX_RULE_BYTES || (size_t)(end - p) < (size_t)len + 1 || p[len] != 0)
		return BAD("module %s: rule of %u bytes does not fit its note", mod, len);
	const unsigned char *bytes = p;
	p += len + 1;
	const unsigned char *mask = NULL;
	if (has_mask) {
		if ((size_t)(end - p) < (size_t)len + 1)
			return BAD("module %s: rule mask does not fit its note", mod);
		mask = p;
	}
	if ((rtype == LM_RULE_EXT || rtype == LM_RULE_SCHEME) && (len == 0 || strlen(c = (const char *)bytes) != len))
		return BAD("module %s: empty or binary extension/scheme rule", mod);
	if ((rtype == LM_RULE_MAGIC || rtype == LM_RULE_MAGIC_END) && len == 0)
		return BAD("module %s: empty magic rule", mod);
	if (lm__grow((void **)&set->rules, &set->caprules, set->nrules, sizeof *set->rules) < 0)
		return LM_E_NOMEM;
	set->rules[set->nrules++] = (struct lm__mrule){
		.mod = mi,
		.kind = a,
		.name = b,
		.offset = (uint64_t)hi << 32 | lo,
		.len = len,
		.type = rtype,
		.score = score,
		.bytes = bytes,
		.mask = mask,
	};
	return 0;
}

int lm__notes_parse(struct lm__mset *set, const unsigned char *notes, size_t len, size_t first,
		    const char *path, bool builtin, char *why, size_t whylen)
{
	size_t off = 0;
	while (len - off >= 12) {
		uint32_t hdr[3];
		memcpy(hdr, notes + off, 12);
		size_t namesz = hdr[0], descsz = hdr[1];
		size_t nameoff = off + 12;
		size_t descoff = nameoff + ((namesz + 3) & ~(size_t)3);
		if (namesz > len || descsz > len || descoff > len || descsz > len - descoff)
			return BAD("note at offset %zu overruns its segment", off);
		size_t next = descoff + ((descsz + 3) & ~(size_t)3);
		if (namesz == sizeof LM_NOTE_OWNER &&
		    !memcmp(notes + nameoff, LM_NOTE_OWNER, sizeof LM_NOTE_OWNER)) {
			int r = parse_desc(set, hdr[2], notes + descoff, descsz, first, path, builtin,
					   why, whylen);
			if (r < 0)
				return r;
		}
		off = next > len ? len : next;
	}
	return 0;
}

/* Checks what the notes of one file declared, once all are read. */
static int check_modules(struct lm__mset *set, size_t first, char *why, size_t whylen)
{
	for (size_t i = first; i < set->nmods; i++)
		if (!set->mods[i].version)
			return BAD("module %s has notes but no LM_MODULE", set->mods[i].name);
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Scans the GNU notes in a segment for NT_GNU_BUILD_ID. */
static void find_build_id(const unsigned char *notes, size_t len, uint8_t *id, uint8_t *idlen)
{
	size_t off = 0;
	while (len - off >= 12) {
		uint32_t hdr[3];
		memcpy(hdr, notes + off, 12);
		size_t descoff = off + 12 + ((hdr[0] + 3ul) & ~3ul);
		if (hdr[0] > len || hdr[1] > len || descoff > len || hdr[1] > len - descoff)
			return;
		if (hdr[0] == 4 && hdr[2] == NT_GNU_BUILD_ID && !memcmp(notes + off + 12, "GNU", 4) &&
		    hdr[1] > 0 && hdr[1] <= 64) {
			memcpy(id, notes + descoff, hdr[1]);
			*idlen = (uint8_t)hdr[1];
			return;
		}
		off = descoff + ((hdr[1] + 3ul) & ~3ul);
		if (off > len)
			return; /* the last descriptor was not padded */
	}
}

/*
 * Reads the PT_NOTE segments of the ELF file on fd, calling fn on each.
 * Only native ELF files (class, byte order) are accepted.
 */
typedef int (*segment_fn)(void *data, const unsigned char *notes, size_t len, unsigned char *buf);
static int for_each_note_segment(int fd, uint64_t size, segment_fn fn, void *data, char *why,
				 size_t whylen)
{
	ElfW(Ehdr) eh;
	memset(&eh, 0, sizeof eh);
	size_t head = size < sizeof eh ? (size_t)size : sizeof eh;
	if (head < SELFMAG || pread_all(fd, &eh, head, 0) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return BAD("not an ELF file");
	if (head < sizeof eh)
		return BAD("truncated ELF header");
	if (eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    eh.e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
		return BAD("ELF class or byte order of another machine");
	if (eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM || eh.e_phentsize != sizeof(ElfW(Phdr)) ||
	    eh.e_phoff > size || (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr)) > size - eh.e_phoff)
		return BAD("program headers missing or outside the file");
	size_t phlen = eh.e_phnum * sizeof(ElfW(Phdr));
	ElfW(Phdr) *ph = lm__malloc(phlen);
	if (!ph)
		return LM_E_NOMEM;
	int r = 0;
	size_t total = 0;
	if (pread_all(fd, ph, phlen, eh.e_phoff) < 0)
		r = BAD("cannot read program headers");
	for (size_t i = 0; r == 0 && i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0)
			continue;
		if (ph[i].p_offset > size || ph[i].p_filesz > size - ph[i].p_offset ||
		    ph[i].p_filesz > MAX_NOTES_SIZE - total) {
			r = BAD("note segment outside the file or too large");
			break;
		}
		total += ph[i].p_filesz;
		unsigned char *buf = lm__malloc(ph[i].p_filesz);
		if (!buf) {
			r = LM_E_NOMEM;
			break;
		}
		if (pread_all(fd, buf, ph[i].p_filesz, ph[i].p_offset) < 0) {
			free(buf);
			r = BAD("cannot read note segment");
			break;
		}
		r = fn(data, buf, ph[i].p_filesz, buf);
	}
	free(ph);
	return r;
}

struct read_ctx {
	struct lm__mset *set;
	size_t first;
	const char *path;
	uint8_t id[64], idlen;
	char *why;
	size_t whylen;
};

static int read_segment(void *data, const unsigned char *notes, size_t len, unsigned char *buf)
{
	struct read_ctx *rc = data;
	struct lm__mset *set = rc->set;
	if (lm__grow((void **)&set->bufs, &set->capbufs, set->nbufs, sizeof *set->bufs) < 0) {
		free(buf);
		return LM_E_NOMEM;
	}
	set->bufs[set->nbufs++] = buf; /* strings of the manifest point into it */
	if (!rc->idlen)
		find_build_id(notes, len, rc->id, &rc->idlen);
	return lm__notes_parse(set, notes, len, rc->first, rc->path, false, rc->why, rc->whylen);
}

int lm__elf_read(struct lm__mset *set, int fd, const char *path, int *found, char *why,
		 size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lm__fail(LM_E_IO, "%s: %s", path, strerror(errno));
	struct read_ctx rc = {.set = set, .first = set->nmods, .path = path, .why = why, .whylen = whylen};
	*found = 0;
	int r = for_each_note_segment(fd, (uint64_t)st.st_size, read_segment, &rc, why, whylen);
	if (r == 0)
		r = check_modules(set, rc.first, why, whylen);
	uint8_t sha[32] = {0};
	bool has_sha = false;
	if (r == 0 && set->want_sha256 && set->nmods > rc.first) {
		char swhy[256] = "";
		r = lm__sha256_fd(fd, (uint64_t)st.st_size, sha, swhy, sizeof swhy);
		if (r < 0)
			lm__fail(r, "%s: %s", path, swhy);
		has_sha = r == 0;
	}
	if (r < 0) {
		/* Drop what this file added: it is all or nothing. */
		for (size_t i = rc.first; i < set->nmods; i++)
			free(set->mods[i].path);
		set->nmods = rc.first;
		size_t n = 0;
#define DROP(arr, cnt)                                                                             \
	for (n = 0; n < set->cnt && set->arr[n].mod < rc.first; n++)                              \
		;                                                                                  \
	set->cnt = n
		DROP(feats, nfeats);
		DROP(deps, ndeps);
		DROP(targets, ntargets);
		DROP(probes, nprobes);
		DROP(rules, nrules);
#undef DROP
		return r;
	}
	for (size_t i = rc.first; i < set->nmods; i++) {
		memcpy(set->mods[i].build_id, rc.id, rc.idlen);
		set->mods[i].build_id_len = rc.idlen;
		set->mods[i].size = (uint64_t)st.st_size;
		set->mods[i].has_sha256 = has_sha;
		memcpy(set->mods[i].sha256, sha, sizeof sha);
	}
	*found = set->nmods > rc.first;
	return 0;
}

struct id_ctx {
	uint8_t *id, *len;
};

static int id_segment(void *data, const unsigned char *notes, size_t len, unsigned char *buf)
{
	struct id_ctx *ic = data;
	if (!*ic->len)
		find_build_id(notes, len, ic->id, ic->len);
	free(buf);
	return 0;
}

int lm__elf_build_id(int fd, uint8_t *id, uint8_t *len, char *why, size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return BAD("cannot stat: %s", strerror(errno));
	struct id_ctx ic = {id, len};
	*len = 0;
	return for_each_note_segment(fd, (uint64_t)st.st_size, id_segment, &ic, why, whylen);
}

struct build_id_ctx {
	const void *base;
	uint8_t *id, *len;
};

static int loaded_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct build_id_ctx *bc = data;
	if ((const void *)info->dlpi_addr != bc->base)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && !*bc->len; i++)
		if (info->dlpi_phdr[i].p_type == PT_NOTE)
			find_build_id((const unsigned char *)(info->dlpi_addr +
							      info->dlpi_phdr[i].p_vaddr),
				      info->dlpi_phdr[i].p_memsz, bc->id, bc->len);
	return 1;
}

int lm__loaded_build_id(const void *base, uint8_t *id, uint8_t *len)
{
	struct build_id_ctx bc = {base, id, len};
	*len = 0;
	return dl_iterate_phdr(loaded_phdr, &bc) ? 0 : -1;
}

struct self_ctx {
	const void *addr;
	struct lm__mset *set;
	int r;
	bool found;
	char *why;
	size_t whylen;
};

static int self_phdr(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct self_ctx *sc = data;
	uintptr_t a = (uintptr_t)sc->addr;
	bool mine = false;
	for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + p->p_vaddr;
		mine = p->p_type == PT_LOAD && a >= start && a < start + p->p_memsz;
	}
	if (!mine)
		return 0;
	size_t first = sc->set->nmods;
	for (int i = 0; i < info->dlpi_phnum && sc->r == 0; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_NOTE)
			sc->r = lm__notes_parse(sc->set,
						(const unsigned char *)(info->dlpi_addr + p->p_vaddr),
						p->p_memsz, first, NULL, true, sc->why, sc->whylen);
	}
	if (sc->r == 0)
		sc->r = check_modules(sc->set, first, sc->why, sc->whylen);
	sc->found = true;
	return 1;
}

int lm__self_notes(struct lm__mset *set, const void *addr, char *why, size_t whylen)
{
	struct self_ctx sc = {.addr = addr, .set = set, .why = why, .whylen = whylen};
	dl_iterate_phdr(self_phdr, &sc);
	if (!sc.found)
		return BAD("no loaded object contains the built-in module table");
	return sc.r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_module_file(const char *name)
{
	size_t n = strlen(name);
	return n > 3 && !strcmp(name + n - 3, ".so") && name[0] != '.';
}

int lm__scan_dir(struct lm__mset *set, const char *dir, lm__report_fn report, void *data)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		report(data, LM_E_IO, strerror(e));
		return lm__fail(LM_E_IO, "module directory %s: %s", dir, strerror(e));
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_module_file(de->d_name))
			continue;
		char *s = NULL;
		if (lm__grow((void **)&names, &cap, n, sizeof *names) < 0 ||
		    !(s = lm__strdup(de->d_name))) {
			r = LM_E_NOMEM;
			break;
		}
		names[n++] = s;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *path = lm__path_join(dir, names[i]);
		if (!path) {
			r = LM_E_NOMEM;
			break;
		}
		char why[256] = "", msg[PATH_MAX + 300];
		struct stat st;
		int found = 0, e = 0;
		int fd = lm__open_regular(path, &st, why, sizeof why);
		if (fd < 0) {
			/* A FIFO, socket, device or directory named *.so is refused
			 * before anything reads it: it could block the scan forever. */
			snprintf(msg, sizeof msg, "%s: %s%s", path, why, fd == LM_E_INVAL ? ": skipped" : "");
			e = fd == LM_E_INVAL ? LM_E_BADMODULE : LM_E_IO;
		} else if ((e = lm__elf_read(set, fd, path, &found, why, sizeof why)) < 0) {
			snprintf(msg, sizeof msg, "%s: %s", path,
				 e == LM_E_BADMODULE ? why : lm__detail());
		}
		if (fd >= 0)
			close(fd);
		free(path);
		if (e == LM_E_NOMEM)
			r = e;
		else if (e < 0)
			report(data, e, msg);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}
