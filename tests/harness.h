/* SPDX-License-Identifier: MIT */
/*
 * harness.h - a minimal test runner. Each test file defines cases with
 * TEST(name) { ... }; the binary runs one case per process:
 *
 *   test-x NAME     runs case NAME (how Meson runs each registered case)
 *   test-x --list   prints the names, one per line
 *   test-x          runs every case, each in a child with a timeout (TAP)
 *
 * Checks print where and why they failed and exit the case with status 1.
 */
#ifndef LAZYMOD_TEST_HARNESS_H
#define LAZYMOD_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	static const struct test_case tc_##name = {#name, test_##name};                            \
	static const struct test_case *const tcp_##name                                            \
		__attribute__((section("test_cases"), used)) = &tc_##name;                         \
	static void test_##name(void)

extern const struct test_case *const __start_test_cases[];
extern const struct test_case *const __stop_test_cases[];

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		exit(1);                                                                           \
	} while (0)
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			FAIL("check failed: %s", #c);                                              \
	} while (0)
#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			FAIL("%s == %lld, expected %s == %lld", #a, a_, #b, b_);                   \
	} while (0)
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_))                                                  \
			FAIL("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)",              \
			     b_ ? b_ : "(null)");                                                  \
	} while (0)
#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *h_ = (hay), *n_ = (needle);                                            \
		if (!h_ || !strstr(h_, n_))                                                        \
			FAIL("%s == \"%s\" does not contain \"%s\"", #hay, h_ ? h_ : "(null)", n_); \
	} while (0)

/* The test program, for cases that run it again as a child. */
static const char *test_exe;

static inline int test_main(int argc, char **argv)
{
	const struct test_case *const *t;
	test_exe = argv[0];
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (t = __start_test_cases; t < __stop_test_cases; t++)
			puts((*t)->name);
		return 0;
	}
	if (argc == 2) {
		for (t = __start_test_cases; t < __stop_test_cases; t++)
			if (!strcmp((*t)->name, argv[1])) {
				(*t)->fn();
				return 0;
			}
		fprintf(stderr, "no test case %s\n", argv[1]);
		return 2;
	}
	int n = 0, failed = 0, total = 0;
	for (t = __start_test_cases; t < __stop_test_cases; t++)
		total += strncmp((*t)->name, "child_", 6) != 0;
	printf("1..%d\n", total);
	for (t = __start_test_cases; t < __stop_test_cases; t++) {
		if (!strncmp((*t)->name, "child_", 6))
			continue; /* run by other cases, in their own environment */
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(120);
			(*t)->fn();
			_exit(0);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		failed += !ok;
		printf("%s %d - %s\n", ok ? "ok" : "not ok", ++n, (*t)->name);
	}
	return failed ? 1 : 0;
}

#define TEST_MAIN                                                                                  \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		return test_main(argc, argv);                                                      \
	}

#endif
