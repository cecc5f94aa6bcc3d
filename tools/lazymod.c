/* SPDX-License-Identifier: MIT */
/*
 * lazymod - the command-line tool: build, list, decode and check indexes.
 *
 *   lazymod index [-o FILE] [--strict] DIR...
 *   lazymod list [--json] [INDEX|DIR]...
 *   lazymod info [--json] FILE
 *   lazymod check [INDEX|DIR]...
 *
 * Commands are a table of {name, function, help}, as in kmod's tools. The
 * tool reads manifests and indexes with the library's own code: `info`
 * builds an index of one file in memory and prints it as `list` does.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazymod-private.h"

static const char *prog = "lazymod";

__attribute__((format(printf, 1, 2))) static void err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- output helpers --------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_bytes(const unsigned char *p, uint32_t len)
{
	char buf[4 * 4096 + 1];
	size_t w = 0;
	for (uint32_t i = 0; i < len && w + 5 < sizeof buf; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
			buf[w++] = (char)p[i];
		else
			w += (size_t)snprintf(buf + w, sizeof buf - w, "\\x%02x", p[i]);
	}
	buf[w] = 0;
	json_str(buf);
}

static const char *rule_type_name(unsigned t)
{
	static const char *const names[] = {[LM_RULE_MAGIC] = "magic", [LM_RULE_MAGIC_END] = "magic-end",
					    [LM_RULE_EXT] = "extension", [LM_RULE_SCHEME] = "scheme",
					    [LM_RULE_ANY] = "any", [LM__RULE_CODE] = "code"};
	return t < sizeof names / sizeof names[0] && names[t] ? names[t] : "unknown";
}

/* Prints the refs list [first, first+n) as a JSON array of strings. */
static void json_str_refs(const struct lm__index *ix, uint32_t first, uint32_t n)
{
	putchar('[');
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off;
		lm__index_ref(ix, first + i, &off);
		if (i)
			putchar(',');
		json_str(lm__index_str(ix, off));
	}
	putchar(']');
}

static void json_rules(const struct lm__index *ix, uint32_t fi)
{
	const struct lm__ifeat *f = lm__index_feat(ix, fi);
	const struct lm__ikind *k;
	putchar('[');
	if (lm__index_find_kind(ix, lm__index_str(ix, f->kind), &k) == 0) {
		bool first = true;
		for (uint32_t ri = k->rules_first; ri < k->rules_first + k->nrules; ri++) {
			const struct lm__irule *r = lm__index_rule(ix, ri);
			if (!r || r->feat != fi)
				continue;
			printf("%s{\"type\":\"%s\"", first ? "" : ",", rule_type_name(r->type));
			first = false;
			if (r->type == LM_RULE_MAGIC || r->type == LM_RULE_MAGIC_END) {
				printf(",\"offset\":%llu,\"bytes\":", (unsigned long long)r->offset);
				json_bytes((const unsigned char *)lm__index_str(ix, r->bytes), r->len);
				if (r->mask) {
					fputs(",\"mask\":", stdout);
					json_bytes((const unsigned char *)lm__index_str(ix, r->mask),
						   r->len);
				}
			} else if (r->type == LM_RULE_EXT || r->type == LM_RULE_SCHEME) {
				fputs(",\"value\":", stdout);
				json_str(lm__index_str(ix, r->bytes));
			}
			if (r->type != LM__RULE_CODE)
				printf(",\"score\":%u", r->score);
			putchar('}');
		}
	}
	putchar(']');
}

/* Prints every module of an index; returns 0 or an lm_error for damage. */
static int print_index(const struct lm__index *ix, const char *where, bool json, bool *first_mod)
{
	for (uint32_t mi = 0; mi < ix->h->nmods; mi++) {
		const struct lm__imod *m = lm__index_mod(ix, mi);
		if (!m) {
			err("%s: module record %u is damaged", where, mi);
			return LM_E_CORRUPT;
		}
		if (!json) {
			printf("%s %s  %s%s%s%s\n", lm__index_str(ix, m->name), lm__index_str(ix, m->version),
			       m->flags & LM__IMOD_BUILTIN ? "(built in)" : lm__index_str(ix, m->path),
			       m->flags & LM__IMOD_BUNDLE ? " (bundle)" : "",
			       *lm__index_str(ix, m->package) ? "  package " : "",
			       lm__index_str(ix, m->package));
			printf("    %s\n", lm__index_str(ix, m->description));
			if (m->flags & LM__IMOD_IFACE)
				printf("    interface %u.%u\n", m->iface_major, m->iface_minor);
			for (uint32_t d = 0; d < m->ntargets; d++) {
				uint32_t off;
				lm__index_ref(ix, m->targets_first + d, &off);
				printf("    target %s\n", lm__index_str(ix, off));
			}
			for (uint32_t d = 0; d < m->ndeps; d++) {
				uint32_t off;
				lm__index_ref(ix, m->deps_first + d, &off);
				printf("    depends on %s\n", lm__index_str(ix, off));
			}
			for (uint32_t d = 0; d < m->nfeats; d++) {
				uint32_t fi;
				lm__index_ref(ix, m->feats_first + d, &fi);
				const struct lm__ifeat *f = lm__index_feat(ix, fi);
				if (f)
					printf("    provides %s/%s%s\n", lm__index_str(ix, f->kind),
					       lm__index_str(ix, f->name), f->flags & 1 ? " (code probe)" : "");
			}
			continue;
		}
		printf("%s\n    {\"name\":", *first_mod ? "" : ",");
		*first_mod = false;
		json_str(lm__index_str(ix, m->name));
		fputs(",\"version\":", stdout);
		json_str(lm__index_str(ix, m->version));
		fputs(",\"description\":", stdout);
		json_str(lm__index_str(ix, m->description));
		fputs(",\"package\":", stdout);
		json_str(lm__index_str(ix, m->package));
		fputs(",\"path\":", stdout);
		json_str(lm__index_str(ix, m->path));
		/* The bundle file the module lives in, or null when it is alone. */
		fputs(",\"bundle\":", stdout);
		if (m->flags & LM__IMOD_BUNDLE)
			json_str(lm__index_str(ix, m->path));
		else
			fputs("null", stdout);
		printf(",\"builtin\":%s", m->flags & LM__IMOD_BUILTIN ? "true" : "false");
		if (m->flags & LM__IMOD_IFACE)
			printf(",\"interface\":\"%u.%u\"", m->iface_major, m->iface_minor);
		else
			fputs(",\"interface\":null", stdout);
		printf(",\"size\":%llu,\"build-id\":\"", (unsigned long long)m->size);
		for (uint32_t b = 0; b < m->build_id_len; b++)
			printf("%02x", m->build_id[b]);
		if (m->flags & LM__IMOD_SHA256) {
			fputs("\",\"sha256\":\"", stdout);
			for (size_t b = 0; b < sizeof m->sha256; b++)
				printf("%02x", m->sha256[b]);
		}
		fputs("\",\"targets\":", stdout);
		json_str_refs(ix, m->targets_first, m->ntargets);
		fputs(",\"dependencies\":", stdout);
		json_str_refs(ix, m->deps_first, m->ndeps);
		fputs(",\"features\":[", stdout);
		for (uint32_t d = 0; d < m->nfeats; d++) {
			uint32_t fi;
			lm__index_ref(ix, m->feats_first + d, &fi);
			const struct lm__ifeat *f = lm__index_feat(ix, fi);
			if (!f)
				return LM_E_CORRUPT;
			printf("%s{\"kind\":", d ? "," : "");
			json_str(lm__index_str(ix, f->kind));
			fputs(",\"name\":", stdout);
			json_str(lm__index_str(ix, f->name));
			fputs(",\"rules\":", stdout);
			json_rules(ix, fi);
			putchar('}');
		}
		fputs("]}", stdout);
	}
	return 0;
}

/* ---- index ---------------------------------------------------------------- */

struct report {
	unsigned warnings;
	unsigned errors; /* what makes an index wrong, --strict or not */
};

static void report(void *data, int e, const char *msg)
{
	struct report *r = data;
	bool error = e == LM__E_BUNDLE_AND_ALONE;
	if (error)
		r->errors++;
	else
		r->warnings++;
	fprintf(stderr, "%s: %s: %s\n", prog, error ? "error" : "warning", msg);
}

static char *absolute(const char *path)
{
	char buf[PATH_MAX];
	if (realpath(path, buf))
		return strdup(buf);
	return NULL;
}

/* Indexes dirs into out (path of the index file). */
static int index_dirs(char *const *dirs, int ndirs, const char *out, bool strict, bool sha256)
{
	struct lm__mset set = {.want_sha256 = sha256};
	struct report rep = {0};
	int status = 0;
	for (int i = 0; i < ndirs && !status; i++) {
		char *dir = absolute(dirs[i]);
		struct stat st;
		if (!dir || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			err("%s: %s", dirs[i], dir ? "not a directory" : strerror(errno));
			status = 1;
		} else if (lm__scan_dir(&set, dir, report, &rep) < 0) {
			err("%s", lm__detail());
			status = 1;
		}
		free(dir);
	}
	char *outdir = NULL;
	if (!status) {
		char *copy = strdup(out), *slash = copy ? strrchr(copy, '/') : NULL;
		if (slash)
			*(slash == copy ? slash + 1 : slash) = 0;
		outdir = copy ? absolute(slash ? copy : ".") : NULL;
		free(copy);
		if (!outdir) {
			err("%s: cannot resolve its directory: %s", out, strerror(errno));
			status = 1;
		}
	}
	struct lm__buf img = {0};
	if (!status && lm__index_build(&set, outdir, report, &rep, &img) < 0) {
		err("%s", lm__detail());
		status = 1;
	}
	if (!status && rep.errors) {
		err("%s: not written: %u error(s)", out, rep.errors);
		status = 1;
	}
	if (!status && lm__index_write_file(out, img.p, img.len) < 0) {
		err("%s", lm__detail());
		status = 1;
	}
	if (!status && strict && rep.warnings) {
		err("%s: %u warning(s) with --strict", out, rep.warnings);
		status = 1;
	}
	free(img.p);
	free(outdir);
	lm__mset_free(&set);
	return status;
}

static int cmd_index(int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"strict", no_argument, NULL, 's'},
					     {"sha256", no_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *out = NULL;
	bool strict = false, sha256 = false;
	int c;
	while ((c = getopt_long(argc, argv, "+o:sh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			strict = true;
			break;
		case 'S':
			sha256 = true;
			break;
		case 'h':
			puts("usage: lazymod index [-o FILE] [--strict] [--sha256] DIR...\n"
			     "Reads the manifest notes of every module (*.so) in DIR and writes the\n"
			     "index, by default DIR/lazymod.index (one per DIR), atomically.\n"
			     "  -o, --output FILE  one index of all DIRs, written to FILE\n"
			     "      --strict       exit 1 when anything was reported (duplicates,\n"
			     "                     missing dependencies, cycles, unreadable modules)\n"
			     "      --sha256       record each module's SHA-256, which hosts in strict\n"
			     "                     mode (LM_CTX_STRICT) require and verify before loading");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		err("index: no module directory given (see lazymod index --help)");
		return 2;
	}
	if (out)
		return index_dirs(argv + optind, argc - optind, out, strict, sha256);
	int status = 0;
	for (int i = optind; i < argc; i++) {
		char *path = lm__path_join(argv[i], "lazymod.index");
		if (!path)
			return 1;
		status |= index_dirs(argv + i, 1, path, strict, sha256);
		free(path);
	}
	return status;
}

/* ---- list, check ------------------------------------------------------------ */

struct mapped {
	void *p;
	size_t len;
	char *path; /* the index file */
	char *dir;  /* the directory its paths are relative to */
};

/* Maps INDEX, or DIR/lazymod.index when arg is a directory. */
static int map_index(const char *arg, struct mapped *m, struct lm__index *ix)
{
	struct stat st;
	memset(m, 0, sizeof *m);
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		m->path = lm__path_join(arg, "lazymod.index");
	else
		m->path = strdup(arg);
	if (!m->path) {
		err("%s: %s", arg, strerror(ENOMEM));
		return -1;
	}
	char why[256] = "";
	int fd = lm__open_regular(m->path, &st, why, sizeof why);
	if (fd < 0) {
		err("%s: %s", m->path, why);
		return -1;
	}
	m->len = (size_t)st.st_size;
	m->p = m->len ? mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	close(fd);
	if (m->p == MAP_FAILED) {
		err("%s: %s", m->path, m->len ? strerror(errno) : "empty file");
		m->p = NULL;
		return -1;
	}
	int r = lm__index_open(ix, m->p, m->len, why, sizeof why);
	if (r < 0) {
		err("%s: %s: %s", m->path, lm_strerror(r), why);
		return -1;
	}
	char *copy = strdup(m->path), *slash = copy ? strrchr(copy, '/') : NULL;
	if (slash)
		*(slash == copy ? slash + 1 : slash) = 0;
	m->dir = copy ? absolute(slash ? copy : ".") : NULL;
	free(copy);
	return m->dir ? 0 : -1;
}

static void unmap_index(struct mapped *m)
{
	if (m->p)
		munmap(m->p, m->len);
	free(m->path);
	free(m->dir);
}

/* The index files beside the tool: <prefix>/lib/<host>/lazymod.index. */
static char **default_indexes(int *n)
{
	char *exe = lm__exe_dir(), *lib = exe ? lm__path_join(exe, "../lib") : NULL;
	char **list = NULL;
	size_t cap = 0, count = 0;
	DIR *d = lib ? opendir(lib) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *sub = lm__path_join(lib, de->d_name), *ix = sub ? lm__path_join(sub, "lazymod.index") : NULL;
		free(sub);
		if (ix && access(ix, R_OK) == 0 && lm__grow((void **)&list, &cap, count, sizeof *list) == 0)
			list[count++] = ix;
		else
			free(ix);
	}
	if (d)
		closedir(d);
	free(exe);
	free(lib);
	*n = (int)count;
	return list;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h') {
			puts("usage: lazymod list [--json] [INDEX|DIR]...\n"
			     "Lists the modules and features an index holds, reading the index alone.\n"
			     "Without an argument, lists every index in the lib/ directory beside the tool.");
			return 0;
		} else
			return 2;
	}
	int n = argc - optind, status = 0;
	char **args = argv + optind, **found = NULL;
	if (n == 0) {
		found = default_indexes(&n);
		args = found;
		if (n == 0) {
			err("list: no index given and none found beside the tool");
			return 1;
		}
	}
	if (json)
		fputs("{\"indexes\":[", stdout);
	for (int i = 0; i < n; i++) {
		struct mapped m;
		struct lm__index ix;
		if (map_index(args[i], &m, &ix) < 0) {
			unmap_index(&m);
			status = 1;
			continue;
		}
		bool first = true;
		if (json) {
			printf("%s\n  {\"index\":", i ? "," : "");
			json_str(m.path);
			fputs(",\"modules\":[", stdout);
		} else {
			printf("%s%s:\n", i ? "\n" : "", m.path);
		}
		if (print_index(&ix, m.path, json, &first) < 0)
			status = 1;
		if (json)
			fputs("]}", stdout);
		unmap_index(&m);
	}
	if (json)
		puts("]}");
	for (int i = 0; found && i < n; i++)
		free(found[i]);
	free(found);
	return status;
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h') {
			puts("usage: lazymod info [--json] FILE\n"
			     "Decodes the lazymod manifests in FILE: a module, or an executable with\n"
			     "built-in modules. Nothing in the file is run.");
			return 0;
		} else
			return 2;
	}
	if (argc - optind != 1) {
		err("info: expected one FILE (see lazymod info --help)");
		return 2;
	}
	const char *file = argv[optind];
	char *path = absolute(file);
	char why[256] = "";
	struct stat st;
	int fd = path ? lm__open_regular(path, &st, why, sizeof why) : -1;
	if (fd < 0) {
		err("%s: %s", file, path ? why : strerror(errno));
		free(path);
		return 1;
	}
	struct lm__mset set = {0};
	int found = 0, r = lm__elf_read(&set, fd, path, &found, why, sizeof why);
	close(fd);
	struct lm__buf img = {0};
	struct report rep = {0};
	int status = 0;
	if (r < 0) {
		err("%s: %s", file, r == LM_E_BADMODULE ? why : lm__detail());
		status = 1;
	} else if (!found) {
		err("%s: no lazymod manifest in this file", file);
		status = 1;
	} else {
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash)
			*(slash == dir ? slash + 1 : slash) = 0;
		struct lm__index ix;
		if (!dir || lm__index_build(&set, dir, report, &rep, &img) < 0 ||
		    lm__index_open(&ix, img.p, img.len, why, sizeof why) < 0) {
			err("%s: %s", file, lm__detail());
			status = 1;
		} else {
			bool first = true;
			if (json) {
				fputs("{\"file\":", stdout);
				json_str(path);
				fputs(",\"modules\":[", stdout);
			}
			print_index(&ix, file, json, &first);
			if (json)
				puts("]}");
		}
		free(dir);
	}
	free(img.p);
	free(path);
	lm__mset_free(&set);
	return status;
}

/* Checks one index: records, then each module's file against its entry. */
static int check_one(const char *arg)
{
	struct mapped m;
	struct lm__index ix;
	if (map_index(arg, &m, &ix) < 0) {
		unmap_index(&m);
		return 1;
	}
	int problems = 0;
	char why[256] = "";
	if (lm__index_verify(&ix, why, sizeof why) < 0) {
		printf("%s: damaged: %s\n", m.path, why);
		unmap_index(&m);
		return 1;
	}
	for (uint32_t i = 0; i < ix.h->nmods; i++) {
		const struct lm__imod *rec = lm__index_mod(&ix, i);
		const char *name = lm__index_str(&ix, rec->name);
		if (rec->flags & LM__IMOD_BUILTIN)
			continue;
		char *path = lm__path_join(m.dir, lm__index_str(&ix, rec->path));
		struct stat st;
		uint8_t id[64], idlen = 0;
		int fd = path ? lm__open_regular(path, &st, why, sizeof why) : -1;
		if (fd < 0) {
			printf("%s: module %s: %s: %s\n", m.path, name, path,
			       path ? why : strerror(ENOMEM));
			problems++;
		} else if ((uint64_t)st.st_size != rec->size ||
			   lm__elf_build_id(fd, id, &idlen, why, sizeof why) < 0 ||
			   idlen != rec->build_id_len || memcmp(id, rec->build_id, idlen)) {
			printf("%s: module %s: %s changed since it was indexed (stale)\n", m.path,
			       name, path);
			problems++;
		} else if (rec->flags & LM__IMOD_SHA256) {
			uint8_t sha[32];
			if (lm__sha256_fd(fd, (uint64_t)st.st_size, sha, why, sizeof why) < 0) {
				printf("%s: module %s: %s\n", m.path, name, why);
				problems++;
			} else if (memcmp(sha, rec->sha256, sizeof sha)) {
				printf("%s: module %s: %s has another SHA-256 than the indexed one\n",
				       m.path, name, path);
				problems++;
			}
		}
		if (fd >= 0)
			close(fd);
		free(path);
	}
	/* Module files the index does not know. */
	struct lm__mset set = {0};
	struct report rep = {0};
	/* A file of the directory that cannot be read as a module (a FIFO or a
	 * device named *.so, a broken ELF file) is a problem too. */
	if (lm__scan_dir(&set, m.dir, report, &rep) == 0) {
		problems += (int)rep.warnings;
		for (size_t i = 0; i < set.nmods; i++) {
			uint32_t mi;
			if (lm__index_find_module(&ix, set.mods[i].name, &mi) != 0) {
				printf("%s: module %s (%s) is not in the index (stale)\n", m.path,
				       set.mods[i].name, set.mods[i].path);
				problems++;
			}
		}
	}
	lm__mset_free(&set);
	if (!problems)
		printf("%s: ok, %u modules, %u features, %u rules\n", m.path, ix.h->nmods,
		       ix.h->nfeats, ix.h->nrules);
	unmap_index(&m);
	return problems ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		puts("usage: lazymod check [INDEX|DIR]...\n"
		     "Verifies every checksum of an index, then that each module file is the one\n"
		     "indexed and that no module file is missing from it. Exit 1 on any problem.");
		return 0;
	}
	int n = argc - 1, status = 0;
	char **args = argv + 1, **found = NULL;
	if (n == 0) {
		found = default_indexes(&n);
		args = found;
		if (!n) {
			err("check: no index given and none found beside the tool");
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		status |= check_one(args[i]);
	for (int i = 0; found && i < n; i++)
		free(found[i]);
	free(found);
	return status;
}

/* ---- main ----------------------------------------------------------------- */

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"index", cmd_index, "write the index of module directories"},
	{"list", cmd_list, "list the modules and features of an index"},
	{"info", cmd_info, "decode the manifests in a module or executable"},
	{"check", cmd_check, "find stale or broken index entries"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lazymod [--help] [--version] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'lazymod COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("lazymod %s\n", LAZYMOD_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name)) {
			prog = "lazymod";
			return commands[i].fn(argc - 1, argv + 1);
		}
	err("'%s' is not a command (see lazymod --help)", argv[1]);
	return 2;
}
