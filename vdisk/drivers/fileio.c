/* SPDX-License-Identifier: MIT */
/*
 * fileio.c - reading local files at an offset: see fileio.h.
 */
#include <errno.h>
#include <sys/types.h>
#include <unistd.h>

#include "fileio.h"

int vdisk_read_at(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* 0: the file ended early */
			return n < 0 ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}
