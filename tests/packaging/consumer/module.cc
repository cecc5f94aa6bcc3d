/* SPDX-License-Identifier: MIT */
/* module.cc - the same module in C++, using every manifest macro. */
#define LM_MODULE_NAME hello_cxx
#include <lazymod/module.h>

#include <string>

#include "consumer.h"

namespace {
const std::string words = "hello from C++";
const char *text() { return words.c_str(); }
const greeting hello = {text};
const char hello_type[] = "a file that starts with HXX";
int probe(const lm_probe_input *in) { return in->head_len >= 3 && in->head[0] == 'C' ? 100 : 0; }
int init(const void *) { return 0; }
} // namespace

LM_MODULE("1.0", "a greeting in C++", init);
LM_INTERFACE(1, 0);
LM_TARGET("consumer");
LM_PACKAGE("consumer-cxx");
LM_FEATURE("greeting", "hello-cxx", &hello);
LM_FEATURE("file-type", "hello-cxx", hello_type);
LM_PROBE_MAGIC("file-type", "hello-cxx", 0, "HXX", 100);
LM_PROBE_MAGIC_MASK("file-type", "hello-cxx", 0, "HX", "\xff\xdf", 90);
LM_PROBE_MAGIC_END("file-type", "hello-cxx", 4, "TAIL", 100);
LM_PROBE_EXT("file-type", "hello-cxx", "hxx", 10);
LM_PROBE_SCHEME("file-type", "hello-cxx", "hxx", 10);
LM_PROBE_ANY("file-type", "hello-cxx", 1);
LM_PROBE_FUNC("file-type", "hello-cxx", probe);
