/* SPDX-License-Identifier: MIT */
/*
 * sha256.c - SHA-256 of a module file, for the strict mode.
 *
 * The digest comes from OpenSSL's libcrypto, but libcrypto is not linked:
 * it is opened the first time a digest is needed. A host that never uses
 * the strict mode maps nothing more at start-up, which is the point of
 * this library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "lazymod-private.h"

typedef const void *(*md_fn)(void);
typedef int (*digest_fn)(const void *data, size_t count, unsigned char *md, unsigned int *size,
			 const void *type, void *engine);

static struct {
	pthread_once_t once;
	md_fn sha256;
	digest_fn digest;
	char why[192];
} crypto = {.once = PTHREAD_ONCE_INIT};

static void load_crypto(void)
{
	static const char *const names[] = {"libcrypto.so.3", "libcrypto.so.1.1"};
	void *h = NULL;
	for (size_t i = 0; !h && i < sizeof names / sizeof names[0]; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(crypto.why, sizeof crypto.why,
			 "SHA-256 needs libcrypto (OpenSSL), which is missing");
		return;
	}
	crypto.sha256 = (md_fn)dlsym(h, "EVP_sha256");
	crypto.digest = (digest_fn)dlsym(h, "EVP_Digest");
	if (!crypto.sha256 || !crypto.digest)
		snprintf(crypto.why, sizeof crypto.why, "libcrypto lacks EVP_sha256 or EVP_Digest");
}

int lm__sha256_fd(int fd, uint64_t size, uint8_t out[32], char *why, size_t whylen)
{
	pthread_once(&crypto.once, load_crypto);
	if (!crypto.sha256 || !crypto.digest) {
		snprintf(why, whylen, "%s", crypto.why);
		return LM_E_LOAD;
	}
	if (size > SIZE_MAX) {
		snprintf(why, whylen, "file too large to hash");
		return LM_E_IO;
	}
	void *p = size ? mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "cannot map the file to hash it: %s", strerror(errno));
		return LM_E_IO;
	}
	unsigned int len = 0;
	int ok = crypto.digest(size ? p : "", (size_t)size, out, &len, crypto.sha256(), NULL);
	if (p)
		munmap(p, (size_t)size);
	if (ok != 1 || len != 32) {
		snprintf(why, whylen, "libcrypto failed to hash the file");
		return LM_E_IO;
	}
	return 0;
}
