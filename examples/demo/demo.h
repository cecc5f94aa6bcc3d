/* SPDX-License-Identifier: MIT */
/*
 * demo.h - the interface between the example host and its modules: a
 * greeting (kind "greeting") and a file type (kind "file-type").
 */
#ifndef DEMO_H
#define DEMO_H

#define DEMO_IFACE_MAJOR 1
#define DEMO_IFACE_MINOR 0

struct demo_services {
	unsigned version;
	/* A text transformation another module provides, for greetings. */
	const char *(*transform)(const char *kind, const char *name, const char *text);
};

struct demo_greeting {
	const char *(*greet)(const char *who, char *buf, unsigned len);
};

struct demo_filetype {
	const char *description;
};

struct demo_text {
	void (*shout)(char *s);
};

#endif
