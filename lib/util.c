/* SPDX-License-Identifier: MIT */
/*
 * util.c - small helpers: CRC-32C, string hashing, a growable buffer, path
 * arithmetic and the allocation wrappers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "lazymod-private.h"

/*
 * CRC-32C (Castagnoli). Written here rather than taken from zlib because
 * zlib's crc32 is another polynomial and because the core must not pull a
 * compression library into every host that uses it. x86-64 computes it in
 * hardware (SSE 4.2) when the processor has it: lookups verify the records
 * they touch, so this is on the lookup path.
 */
static uint32_t crc_table[256];
static uint32_t (*crc_impl)(uint32_t crc, const unsigned char *p, size_t len);
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static uint32_t crc_soft(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const unsigned char *p,
							     size_t len)
{
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}
#endif

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
	crc_impl = crc_soft;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		crc_impl = crc_sse42;
#endif
}

uint32_t lm__crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_impl(~crc, buf, len);
}

uint32_t lm__hash(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ 0) * 16777619u;
	if (b)
		for (; *b; b++)
			h = (h ^ (unsigned char)*b) * 16777619u;
	return h;
}

/* Failure injection for tests: the Nth allocation from now fails. */
int lm__fault_alloc_after = -1;

static bool fault(void)
{
	if (lm__fault_alloc_after < 0)
		return false;
	return lm__fault_alloc_after-- == 0;
}

void *lm__malloc(size_t n)
{
	return fault() ? NULL : malloc(n);
}

void *lm__calloc(size_t n, size_t m)
{
	return fault() ? NULL : calloc(n, m);
}

void *lm__realloc(void *p, size_t n)
{
	return fault() ? NULL : realloc(p, n);
}

char *lm__strdup(const char *s)
{
	return fault() ? NULL : strdup(s);
}

int lm__grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / elem)
		return -1;
	void *p = lm__realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

size_t lm__buf_append(struct lm__buf *b, const void *data, size_t len)
{
	size_t off = b->len;
	if (b->oom)
		return off;
	if (b->len + len > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + len)
			ncap *= 2;
		unsigned char *p = lm__realloc(b->p, ncap);
		if (!p) {
			b->oom = true;
			return off;
		}
		b->p = p;
		b->cap = ncap;
	}
	if (data)
		memcpy(b->p + b->len, data, len);
	else
		memset(b->p + b->len, 0, len);
	b->len += len;
	return off;
}

void lm__buf_align(struct lm__buf *b, size_t align)
{
	size_t pad = (align - b->len % align) % align;
	if (pad)
		lm__buf_append(b, NULL, pad);
}

char *lm__path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || !dir || !*dir)
		return lm__strdup(rel);
	size_t a = strlen(dir), b = strlen(rel);
	char *s = lm__malloc(a + b + 2);
	if (!s)
		return NULL;
	memcpy(s, dir, a);
	s[a] = '/';
	memcpy(s + a + 1, rel, b + 1);
	return s;
}

char *lm__path_relative(const char *from, const char *to)
{
	/* The longest common leading directory, then one ".." per component
	 * of `from` past it. */
	size_t i = 0, common = 0, ups = 0;
	for (; from[i] && from[i] == to[i]; i++)
		if (from[i] == '/')
			common = i + 1;
	if (!from[i] && to[i] == '/') {
		common = i + 1;
	} else {
		for (const char *p = from + common; *p; p++)
			if (*p != '/' && (p == from + common || p[-1] == '/'))
				ups++;
	}
	size_t tail = strlen(to + common);
	char *s = lm__malloc(ups * 3 + tail + 1);
	if (!s)
		return NULL;
	char *w = s;
	for (size_t k = 0; k < ups; k++, w += 3)
		memcpy(w, "../", 3);
	memcpy(w, to + common, tail + 1);
	return s;
}

/*
 * The path the executable was started by, when it names the executable
 * itself: absolute, and not a symbolic link (one readlink says so). The
 * directories on the way may be links: callers resolve the path they build.
 */
static bool exec_path(char *buf, size_t len)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	char link[8];
	if (!fn || fn[0] != '/' || strlen(fn) >= len || readlink(fn, link, sizeof link) >= 0 ||
	    errno != EINVAL)
		return false;
	strcpy(buf, fn);
	return true;
}

char *lm__exe_dir(void)
{
	char buf[PATH_MAX];
	/* /proc/self/exe only when needed: the first look-up under /proc/self
	 * is among the dearest steps of a process's first context. */
	if (!exec_path(buf, sizeof buf)) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
		if (n <= 0)
			return NULL;
		buf[n] = 0;
	}
	char *slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	return lm__strdup(buf[0] ? buf : "/");
}

const char *lm__file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return S_ISREG(mode) ? "a regular file" : "of an unknown file type";
}

int lm__open_regular(const char *path, struct stat *st, char *why, size_t whylen)
{
	/*
	 * O_NONBLOCK: opening a FIFO for reading waits for a writer, and a
	 * device's open may wait too; with it, open returns at once and the
	 * fstat below refuses them. O_NOCTTY: a terminal must not become the
	 * host's controlling terminal. Neither changes how a regular file reads.
	 */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat ls;
		/* A socket cannot be opened at all (ENXIO): say what it is. */
		if (e == ENXIO && stat(path, &ls) == 0 && !S_ISREG(ls.st_mode)) {
			snprintf(why, whylen, "%s, not a regular file", lm__file_kind(ls.st_mode));
			return LM_E_INVAL;
		}
		snprintf(why, whylen, "%s", strerror(e));
		return e == ENOENT ? LM_E_NOTFOUND : LM_E_IO;
	}
	if (fstat(fd, st) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		close(fd);
		return LM_E_IO;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "%s, not a regular file", lm__file_kind(st->st_mode));
		close(fd);
		return LM_E_INVAL;
	}
	return fd;
}

const char *lm__intern(struct lm__strpool *p, const char *s)
{
	if (!*s)
		return "";
	pthread_mutex_lock(&p->lock);
	const char *found = NULL;
	if (p->n * 2 >= p->cap) {
		/* Grow to keep the table at most half full. */
		size_t ncap = p->cap ? p->cap * 2 : 64;
		char **ns = lm__calloc(ncap, sizeof *ns);
		if (!ns)
			goto out;
		for (size_t i = 0; i < p->cap; i++) {
			if (!p->slots[i])
				continue;
			size_t h = lm__hash(p->slots[i], NULL) & (ncap - 1);
			while (ns[h])
				h = (h + 1) & (ncap - 1);
			ns[h] = p->slots[i];
		}
		free(p->slots);
		p->slots = ns;
		p->cap = ncap;
	}
	size_t h = lm__hash(s, NULL) & (p->cap - 1);
	while (p->slots[h] && strcmp(p->slots[h], s))
		h = (h + 1) & (p->cap - 1);
	if (!p->slots[h] && (p->slots[h] = lm__strdup(s)))
		p->n++;
	found = p->slots[h];
out:
	pthread_mutex_unlock(&p->lock);
	return found;
}

void lm__strpool_free(struct lm__strpool *p)
{
	for (size_t i = 0; i < p->cap; i++)
		free(p->slots[i]);
	free(p->slots);
	p->slots = NULL;
	p->n = p->cap = 0;
}
