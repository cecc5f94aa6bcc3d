/* SPDX-License-Identifier: MIT */
/*
 * host.cc - a C++ host built outside the lazymod tree: the context held by
 * a unique_ptr, the greeting named by argv[1] loaded from
 * "$ORIGIN/../lib/consumer" (or argv[2]) and printed.
 *
 *   host-cxx FEATURE [DIR]
 */
#include <lazymod.h>

#include <iostream>
#include <memory>

#include "consumer.h"

namespace {
struct unref {
	void operator()(lm_context *ctx) const { lm_context_unref(ctx); }
};
using context = std::unique_ptr<lm_context, unref>;
} // namespace

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *const dirs[] = {argc > 2 ? argv[2] : "$ORIGIN/../lib/consumer", nullptr};
	lm_options opts{};
	opts.dirs = dirs;
	opts.iface_major = 1;
	opts.target = "consumer";
	lm_context *raw = nullptr;
	if (lm_context_new(&opts, &raw) < 0)
		return 2;
	context ctx(raw);
	const void *object = nullptr;
	int r = lm_get(ctx.get(), "greeting", argv[1], &object);
	if (r < 0) {
		std::cerr << "host-cxx: " << lm_strerror(r) << ": " << lm_errdetail(ctx.get()) << "\n";
		return 1;
	}
	std::cout << static_cast<const greeting *>(object)->text() << "\n";
	return 0;
}
