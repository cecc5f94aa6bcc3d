/* SPDX-License-Identifier: MIT */
/*
 * loader.c - dlopen of one verified module file, and the proof that the
 * object the dynamic loader hands back is that very file.
 *
 * glibc's dlopen returns an object already in memory when its name matches
 * (or its device and inode do). A name is not an identity: a module that
 * cannot be unloaded (an STB_GNU_UNIQUE symbol, -z nodelete) keeps its name
 * after its file was replaced by an upgrade, and a file can be renamed over
 * between the moment lazymod checks it and the moment the loader opens it.
 * So the file is loaded by its real path (which keeps $ORIGIN meaningful),
 * and the object that comes back is compared, device and inode, with the
 * descriptor that was verified:
 *
 *  - an object the call mapped was mapped from what the path named when the
 *    loader opened it: the path must still name the verified file after the
 *    call (a rename in between shows as another inode);
 *  - an object that was already in memory is looked up in /proc/self/maps,
 *    which gives the device and inode of the file behind each mapping.
 *
 * An object left in memory under the module's path by an older build is not
 * the verified file: the path is then spelled differently ("dir/./name.so",
 * the same file to the kernel, a new name to the loader), so that the new
 * build is mapped beside the old one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lazymod-private.h"

#define MAX_SEEN 512     /* objects remembered before a dlopen; more: ask /proc */
#define MAX_RESPELL 4    /* other spellings of a path tried past stale objects */

struct seen {
	uintptr_t dyn[MAX_SEEN];
	size_t n;
	bool overflow;
};

static int note_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct seen *s = data;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
			if (s->n < MAX_SEEN)
				s->dyn[s->n++] = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
			else
				s->overflow = true;
			break;
		}
	return 0;
}

/* Whether the object whose dynamic section is at dyn was in memory before. */
static bool was_loaded(const struct seen *s, uintptr_t dyn)
{
	if (s->overflow)
		return true; /* cannot tell: prove it the slow way */
	for (size_t i = 0; i < s->n; i++)
		if (s->dyn[i] == dyn)
			return true;
	return false;
}

/*
 * The device and inode of the file mapped at addr, from /proc/self/maps.
 * Returns 0, or -1 when there is no /proc or no file mapping there.
 */
static int mapped_file(uintptr_t addr, dev_t *dev, ino_t *ino)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	char line[PATH_MAX + 128];
	bool at_start = true;
	int r = -1;
	while (r < 0 && fgets(line, sizeof line, f)) {
		bool starts = at_start;
		at_start = strchr(line, '\n') != NULL; /* a long path continues a line */
		uintmax_t lo, hi, inode;
		unsigned major, minor;
		if (!starts || sscanf(line, "%jx-%jx %*s %*x %x:%x %ju", &lo, &hi, &major, &minor,
				      &inode) != 5)
			continue;
		if (addr >= lo && addr < hi) {
			if (inode == 0)
				break;
			*dev = makedev(major, minor);
			*ino = (ino_t)inode;
			r = 0;
		}
	}
	fclose(f);
	return r;
}

/* Whether an object whose build-id is `id` is loaded at base (without /proc). */
static bool same_build(uintptr_t base, const uint8_t *id, uint8_t idlen)
{
	uint8_t mid[64], midlen = 0;
	return lm__loaded_build_id((const void *)base, mid, &midlen) == 0 && midlen == idlen &&
	       memcmp(mid, id, idlen) == 0;
}

/* "dir/base" spelled with k "./" before base: the same file, another name. */
static char *respell(const char *path, int k)
{
	const char *base = strrchr(path, '/');
	size_t dirlen = base ? (size_t)(base - path) + 1 : 0;
	char *p = lm__malloc(strlen(path) + 2 * (size_t)k + 1);
	if (!p)
		return NULL;
	memcpy(p, path, dirlen);
	char *q = p + dirlen;
	for (int i = 0; i < k; i++, q += 2)
		memcpy(q, "./", 2);
	strcpy(q, path + dirlen);
	return p;
}

/* The loader's message for a failed dlopen, as an lm_error with its detail. */
static int dlopen_failed(const char *name, const char *path, const char *target)
{
	const char *msg = dlerror();
	if (!msg)
		msg = "dlopen failed";
	const char *tail = strstr(msg, ": cannot open shared object file");
	if (tail) {
		/* "LIB: cannot open...": LIB is a library the module needs, unless it is the module. */
		const char *start = msg;
		for (const char *p = msg; p < tail; p++)
			if (p[0] == ':' && p[1] == ' ')
				start = p + 2;
		int n = (int)(tail - start);
		if (n > 0 && (strncmp(start, target, (size_t)n) != 0 || target[n] != 0))
			return lm__fail(LM_E_NEEDLIB, "module %s (%s): needs library %.*s, which is missing",
					name, path, n, start);
	}
	return lm__fail(LM_E_LOAD, "module %s (%s): %s", name, path, msg);
}

int lm__dlopen_verified(const char *name, const char *path, const struct stat *verified,
			const uint8_t *build_id, uint8_t build_id_len, void **handle)
{
	*handle = NULL;
	for (int k = 0; k <= MAX_RESPELL; k++) {
		char *target = k ? respell(path, k) : (char *)path;
		if (!target)
			return lm__fail(LM_E_NOMEM, "out of memory");
		struct seen before = {.n = 0};
		dl_iterate_phdr(note_object, &before);
		dlerror();
		void *h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
		struct link_map *lm = NULL;
		int r = 0;
		if (!h)
			r = dlopen_failed(name, path, target);
		else if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
			r = lm__fail(LM_E_LOAD, "module %s (%s): the loader does not describe it", name,
				     path);
		bool stale = false;
		if (r == 0 && !was_loaded(&before, (uintptr_t)lm->l_ld)) {
			/* Mapped by this call, from what target named when the
			 * loader opened it: it must name the verified file still. */
			struct stat now;
			if (stat(target, &now) < 0 || now.st_dev != verified->st_dev ||
			    now.st_ino != verified->st_ino)
				r = lm__fail(LM_E_STALE,
					     "module %s (%s): the file was replaced while it was being "
					     "loaded; the object loaded is not the file checked",
					     name, path);
		} else if (r == 0) {
			dev_t dev;
			ino_t ino;
			if (mapped_file((uintptr_t)lm->l_ld, &dev, &ino) == 0)
				stale = dev != verified->st_dev || ino != verified->st_ino;
			else /* no /proc: the build-id in memory is what can be compared */
				stale = !same_build(lm->l_addr, build_id, build_id_len);
		}
		if (k)
			free(target);
		if (r == 0 && !stale) {
			*handle = h;
			return 0;
		}
		if (h)
			dlclose(h);
		if (r < 0)
			return r;
	}
	return lm__fail(LM_E_LOAD,
			"module %s (%s): another build of it stays loaded under every name tried, "
			"and cannot be unloaded",
			name, path);
}
