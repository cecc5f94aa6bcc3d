/* SPDX-License-Identifier: MIT */
/*
 * fileio.h - reading local files at an offset, for vdisk's host and its
 * drivers' test harness: part of libvdisk-driver (fileio.c).
 */
#ifndef VDISK_FILEIO_H
#define VDISK_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads exactly len bytes at off from fd into buf, through short reads and
 * EINTR. Returns 0, a negative errno value, or -EIO when the file ends
 * first (it shrank since its size was taken).
 */
int vdisk_read_at(int fd, void *buf, size_t len, uint64_t off);

#endif /* VDISK_FILEIO_H */
