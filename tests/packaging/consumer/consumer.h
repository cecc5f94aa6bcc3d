/* SPDX-License-Identifier: MIT */
/* consumer.h - the interface between the consumer test's host and modules. */
#ifndef CONSUMER_H
#define CONSUMER_H
struct greeting {
	const char *(*text)(void);
};
#endif
