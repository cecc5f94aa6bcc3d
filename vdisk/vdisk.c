/* SPDX-License-Identifier: MIT */
/*
 * vdisk - reads virtual disk images; every format, protocol and codec is a
 * lazymod module, loaded the first time an image needs it.
 *
 *   vdisk info [--json] [-U] [-f FMT] [-o KEY=VALUE]... IMAGE
 *   vdisk probe [-U] [-o KEY=VALUE]... IMAGE
 *   vdisk cat [-U] [-f FMT] [-o KEY=VALUE]... IMAGE
 *   vdisk convert [-p] [-U] [-f FMT] [-O raw] [-o KEY=VALUE]... IMAGE OUTPUT
 *   vdisk formats [--json]
 *
 * This file is the command line and the output; image.c opens images.
 * Exit status: 0 on success, 1 on an error (after "vdisk: FILE: cause" on
 * stderr), 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

#ifndef VDISK_MODE
#define VDISK_MODE "lazy"
#endif
#ifndef LAZYMOD_VERSION
#define LAZYMOD_VERSION "unknown"
#endif

/* Guest bytes read at a time. */
#define BUF_SIZE (2u << 20)
/* convert leaves a hole wherever a whole block of this size reads as zeros. */
#define ZERO_BLOCK 4096u
/* The longest run status is asked about at once, so that huge unallocated
 * stretches take few calls while allocated ones are not walked twice. */
#define MAX_SPAN (1ull << 30)

#define EXIT_USAGE 2

/*
 * The host this run reads images with (image.h): one per process, made by
 * main before the command runs.
 */
static struct vdisk_host *host;

static const char help_text[] =
	"Usage: vdisk COMMAND [OPTION]... ARGUMENT...\n"
	"       vdisk --help | --version\n"
	"\n"
	"Reads virtual disk images. Every format, protocol and codec is a module that\n"
	"is loaded the first time an image needs it.\n"
	"\n"
	"Commands:\n"
	"  info [--json] [-U] [-f FMT] [-o KEY=VALUE]... IMAGE\n"
	"      Shows the image's format, virtual size, size on disk, cluster size,\n"
	"      backing file and format, compression and format-specific fields.\n"
	"      Backing files are named, not opened (as with qemu-img info).\n"
	"  probe [-U] [-o KEY=VALUE]... IMAGE\n"
	"      Names the format probing finds, its score and the rule that decided.\n"
	"      Only formats whose rules cannot decide have their module loaded.\n"
	"  cat [-U] [-f FMT] [-o KEY=VALUE]... IMAGE\n"
	"      Writes the guest's bytes to standard output.\n"
	"  convert [-p] [-U] [-f FMT] [-O raw] [-o KEY=VALUE]... IMAGE OUTPUT\n"
	"      Writes the guest's bytes to OUTPUT as a raw image. A regular file is\n"
	"      left sparse: nothing is written where the guest reads zeros, and is\n"
	"      written beside OUTPUT then renamed: a failed or interrupted convert\n"
	"      leaves the old OUTPUT or none. OUTPUT may be no file the image reads.\n"
	"  formats [--json]\n"
	"      Lists the formats, protocols and codecs installed, from the module\n"
	"      index alone: nothing is loaded.\n"
	"  help\n"
	"      Shows this text.\n"
	"\n"
	"Options:\n"
	"  -f, --format=FMT         the image's format (qcow2, vmdk, raw, ...); without\n"
	"                           it the format is probed from the image's bytes\n"
	"      --json               JSON output; info uses qemu-img's key names\n"
	"  -o, --option=KEY=VALUE   an option of the image's protocol (repeatable; see\n"
	"                           below)\n"
	"  -O, --output-format=raw  convert's output format; only raw is supported\n"
	"  -p, --progress           convert draws a progress bar on standard error when\n"
	"                           it is a terminal\n"
	"  -U, --force-share        read a local image that another process (QEMU) has\n"
	"                           open for writing, as qemu-img -U does\n"
	"  -h, --help               shows this text and exits\n"
	"  -V, --version            shows the versions and the module mode and exits\n"
	"\n"
	"IMAGE is a file name, or a URI when a protocol module handles its scheme:\n"
	"http://, https:// (range requests) and sftp://[USER@]HOST[:PORT]/PATH (also\n"
	"ssh://). Relative backing file names are relative to the image that names\n"
	"them; in a remote image they name files on the same server. A remote\n"
	"image's backing file on another origin (scheme, user, host or port), a local\n"
	"file included, is refused unless -o backing_origin=any.\n"
	"\n"
	"Protocol options (-o KEY=VALUE; an option the protocol does not take is an\n"
	"error):\n"
	"  sslverify=on|off         http(s): check the server's certificate (on)\n"
	"  cacert=PATH              http(s): trust the CA certificates in PATH\n"
	"  timeout=S                longest time for one request, or for an sftp\n"
	"                           login (120); without it, an http(s) request slower\n"
	"                           than 1 KiB/s for 20 s also fails\n"
	"  connect_timeout=S        longest time to connect (30)\n"
	"  identity=PATH            sftp: log in with this private key only (default:\n"
	"                           the agent, then ~/.ssh's keys)\n"
	"  known_hosts=PATH         sftp: the known hosts file (~/.ssh/known_hosts)\n"
	"  host_key_check=yes|no    sftp: check the server's host key (yes)\n"
	"  backing_origin=same|any  any: let a remote image's backing files be on\n"
	"                           other origins (same)\n"
	"sslverify, cacert, identity, known_hosts and host_key_check apply to the\n"
	"image's origin only, never to a backing file on another.\n"
	"\n"
	"cat stops quietly, with status 0, when its reader goes away.\n"
	"\n"
	"Exit status: 0 on success, 1 on an error, 2 on a usage error.\n"
	"Environment: LAZYMOD_DEBUG=1 traces module loading on standard error;\n"
	"LAZYMOD_PATH=DIR[:DIR]... searches those module directories first.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vdisk: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'vdisk --help' for more information.\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

__attribute__((format(printf, 2, 3))) static int file_error(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vdisk: %s: ", file);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	/* The cause a protocol gave for the read that failed, which the
	 * format driver could not know. */
	const char *cause = host_take_source_error(host);
	if (cause)
		fprintf(stderr, "vdisk: %s\n", cause);
	return EXIT_FAILURE;
}

/* Ends a command that printed with stdio: a failed write is an error too. */
static int finish_stdout(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	if (errno == EPIPE)
		return status;
	return file_error("standard output", "%s", strerror(errno));
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	fputs(help_text, stdout);
	return finish_stdout(0);
}

/* ---- options ------------------------------------------------------------------- */

enum { OPT_JSON = 256 };

struct opts {
	const char *format;
	const char *out_format;
	bool json;
	bool progress;
	bool help;
	bool has_options; /* -o given: host_add_option kept them */
};

static const struct option all_options[] = {
	{"format", required_argument, NULL, 'f'},
	{"output-format", required_argument, NULL, 'O'},
	{"option", required_argument, NULL, 'o'},
	{"progress", no_argument, NULL, 'p'},
	{"force-share", no_argument, NULL, 'U'},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/*
 * Parses the options of command argv[0]; `allowed` holds the short letters
 * it takes ('j' stands for --json). Returns 0, or EXIT_USAGE after saying
 * why. On success argv[optind...] are the operands.
 */
static int parse_options(int argc, char **argv, const char *allowed, struct opts *o)
{
	struct option longopts[sizeof all_options / sizeof all_options[0]];
	char shortopts[16] = ":h";
	size_t nl = 0, ns = strlen(shortopts);
	for (const struct option *a = all_options; a->name; a++) {
		int letter = a->val == OPT_JSON ? 'j' : a->val;
		if (letter != 'h' && !strchr(allowed, letter))
			continue;
		longopts[nl++] = *a;
		if (a->val != OPT_JSON && letter != 'h') {
			shortopts[ns++] = (char)letter;
			if (a->has_arg)
				shortopts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){NULL, 0, NULL, 0};
	shortopts[ns] = 0;

	opterr = 0;
	optind = 0; /* glibc: start afresh */
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'f':
			o->format = optarg;
			break;
		case 'O':
			o->out_format = optarg;
			break;
		case 'o': {
			struct vdisk_err err = {""};
			if (host_add_option(host, optarg, &err) < 0)
				return usage_error("%s: %s", argv[0], err.msg);
			o->has_options = true;
			break;
		}
		case 'p':
			o->progress = true;
			break;
		case 'U':
			host_set_force_share(host, true);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			o->help = true;
			break;
		case ':':
			return usage_error("%s: option %s needs an argument", argv[0],
					   argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("%s: unknown option -%c", argv[0], optopt);
			return usage_error("%s: unknown option %s", argv[0], argv[optind - 1]);
		}
	}
	if (o->format && !*o->format)
		return usage_error("%s: empty format name", argv[0]);
	return 0;
}

/* Checks the number of operands; names the first one missing. */
static int operands(int argc, char **argv, const char *const *names, int n)
{
	int have = argc - optind;
	if (have < n)
		return usage_error("%s: missing %s", argv[0], names[have]);
	if (have > n)
		return usage_error("%s: unexpected argument %s", argv[0], argv[optind + n]);
	return 0;
}

/*
 * What every command does first: options, --help, operands (named by
 * `names`, n of them), then the modules. Returns -1 to go on, or the exit
 * status to end with. Usage errors are found before any module is touched.
 */
static int prepare(int argc, char **argv, const char *allowed, struct opts *o,
		   const char *const *names, int n)
{
	struct vdisk_err err = {""};
	int r = parse_options(argc, argv, allowed, o);
	if (r)
		return r;
	if (o->help)
		return cmd_help(0, NULL);
	if (o->out_format && strcmp(o->out_format, "raw"))
		return usage_error("%s: output format %s is not supported (only raw)", argv[0],
				   o->out_format);
	r = operands(argc, argv, names, n);
	if (r)
		return r;
	if (host_start(host, &err) < 0) {
		fprintf(stderr, "vdisk: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	/* Operand 0 is the image for every command that takes -o. */
	if (o->has_options && host_check_options(host, argv[optind], &err) < 0)
		return usage_error("%s: %s", argv[0], err.msg);
	return -1;
}

/* ---- output helpers -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], n, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c < 0xe0)
		n = 1, min = 0x80;
	else if (c >= 0xe0 && c < 0xf0)
		n = 2, min = 0x800;
	else if (c >= 0xf0 && c < 0xf5)
		n = 3, min = 0x10000;
	else
		return 0;
	unsigned cp = c & (0x3f >> n);
	for (unsigned i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return 0;
	return n + 1;
}

/* A JSON string. File names need not be UTF-8: bytes that are not become U+FFFD. */
static void json_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	putchar('"');
	while (*s) {
		size_t n = utf8_len(s);
		if (!n) {
			fputs("\\ufffd", stdout);
			s++;
		} else if (*s == '"' || *s == '\\') {
			printf("\\%c", *s++);
		} else if (*s == '\n') {
			fputs("\\n", stdout), s++;
		} else if (*s == '\t') {
			fputs("\\t", stdout), s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else {
			fwrite(s, 1, n, stdout);
			s += n;
		}
	}
	putchar('"');
}

/* Whether a driver's "number" really is a JSON number or boolean. */
static bool json_literal(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "false"))
		return true;
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == 0;
}

/* A size as qemu-img prints it: three significant digits, binary units. */
static const char *human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	/* qemu switches unit at 1000 of the smaller one: 1000 bytes is 0.977 KiB. */
	double x = (double)v * 1.024, d = (double)v;
	int i = 0;
	while (i < 6 && x >= 1024.0) {
		x /= 1024.0;
		d /= 1024.0;
		i++;
	}
	snprintf(buf, len, "%0.3g %sB", d, suffix[i]);
	return buf;
}

/* ---- info ------------------------------------------------------------------------ */

static void info_json(const struct vdisk_image *img, const char *name, const char *full_backing)
{
	const struct vdisk_info *i = &img->info;
	const struct source *s = img->source;
	printf("{\n    \"virtual-size\": %llu,\n    \"filename\": ",
	       (unsigned long long)i->virtual_size);
	json_str(name);
	printf(",\n");
	if (i->cluster_size)
		printf("    \"cluster-size\": %llu,\n", (unsigned long long)i->cluster_size);
	printf("    \"format\": ");
	json_str(img->format);
	printf(",\n");
	if (s->allocated != UINT64_MAX)
		printf("    \"actual-size\": %llu,\n", (unsigned long long)s->allocated);
	if (i->backing_file[0]) {
		printf("    \"backing-filename\": ");
		json_str(i->backing_file);
		printf(",\n    \"full-backing-filename\": ");
		json_str(full_backing);
		printf(",\n");
	}
	if (i->backing_format[0]) {
		printf("    \"backing-filename-format\": ");
		json_str(i->backing_format);
		printf(",\n");
	}
	if (i->compression[0]) {
		printf("    \"compression\": ");
		json_str(i->compression);
		printf(",\n");
	}
	if (i->n_specific) {
		printf("    \"format-specific\": {\n        \"type\": ");
		json_str(img->format);
		printf(",\n        \"data\": {\n");
		for (unsigned k = 0; k < i->n_specific; k++) {
			const struct vdisk_kv *kv = &i->specific[k];
			printf("            ");
			json_str(kv->key);
			printf(": ");
			if (kv->is_number && json_literal(kv->value))
				fputs(kv->value, stdout);
			else
				json_str(kv->value);
			printf("%s\n", k + 1 < i->n_specific ? "," : "");
		}
		printf("        }\n    },\n");
	}
	printf("    \"dirty-flag\": false\n}\n");
}

static void info_human(const struct vdisk_image *img, const char *name, const char *full_backing)
{
	const struct vdisk_info *i = &img->info;
	char a[32];
	printf("image: %s\nfile format: %s\n", name, img->format);
	printf("virtual size: %s (%llu bytes)\n", human_size(i->virtual_size, a, sizeof a),
	       (unsigned long long)i->virtual_size);
	if (img->source->allocated != UINT64_MAX)
		printf("disk size: %s\n", human_size(img->source->allocated, a, sizeof a));
	else
		printf("disk size: unavailable\n");
	if (i->cluster_size)
		printf("cluster_size: %llu\n", (unsigned long long)i->cluster_size);
	if (i->backing_file[0]) {
		printf("backing file: %s", i->backing_file);
		if (strcmp(i->backing_file, full_backing))
			printf(" (actual path: %s)", full_backing);
		putchar('\n');
	}
	if (i->backing_format[0])
		printf("backing file format: %s\n", i->backing_format);
	if (i->compression[0])
		printf("compression: %s\n", i->compression);
	if (i->n_specific)
		printf("Format specific information:\n");
	for (unsigned k = 0; k < i->n_specific; k++) {
		char key[sizeof i->specific[k].key];
		snprintf(key, sizeof key, "%s", i->specific[k].key);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = ' ';
		printf("    %s: %s\n", key, i->specific[k].value);
	}
}

static int cmd_info(int argc, char **argv)
{
	static const char *const names[] = {"IMAGE"};
	struct opts o = {0};
	int r = prepare(argc, argv, "fjoU", &o, names, 1);
	if (r >= 0)
		return r;
	const char *name = argv[optind];
	struct vdisk_err err = {""};
	struct vdisk_image *img;
	host_set_follow_backing(host, false);
	if (image_open(host, name, o.format, 0, &img, &err) < 0)
		return file_error(name, "%s", err.msg);
	char full[4096] = "";
	if (img->info.backing_file[0] &&
	    resolve_backing(name, img->info.backing_file, full, sizeof full) < 0)
		snprintf(full, sizeof full, "%s", img->info.backing_file);
	if (o.json)
		info_json(img, name, full);
	else
		info_human(img, name, full);
	image_close(img);
	return finish_stdout(0);
}

/* ---- probe ------------------------------------------------------------------------ */

static int cmd_probe(int argc, char **argv)
{
	static const char *const names[] = {"IMAGE"};
	struct opts o = {0};
	int r = prepare(argc, argv, "oU", &o, names, 1);
	if (r >= 0)
		return r;
	const char *name = argv[optind];
	struct vdisk_err err = {""};
	struct source *s;
	struct lm_probe_result res;
	if (source_open(host, name, &s, &err) < 0)
		return file_error(name, "%s", err.msg);
	r = source_probe(s, &res, &err);
	source_close(s);
	if (r < 0)
		return file_error(name, "%s", err.msg);
	printf("%s (score %d, %s)\n", res.name, res.score, res.rule);
	return finish_stdout(0);
}

/* ---- copying guest bytes: cat and convert ---------------------------------------------- */

struct sink {
	int fd;
	const char *name;
	bool sparse;	   /* a regular file, already of the right size: skip zeros */
	bool epipe_quiet; /* cat: a reader that went away ends the copy quietly */
	bool epipe;	   /* ... and it did */
};

struct progress {
	bool on;
	int shown; /* per mille, -1 before the first */
};

static void progress_draw(struct progress *p, uint64_t done, uint64_t total)
{
	static const char bar[] = "########################################";
	const int width = (int)sizeof bar - 1;
	if (!p->on)
		return;
	int pm = total ? (int)((double)done / (double)total * 1000.0) : 1000;
	if (pm == p->shown)
		return;
	p->shown = pm;
	int fill = pm * width / 1000;
	fprintf(stderr, "\r[%.*s%*s] %5.1f%%", fill, bar, width - fill, "", pm / 10.0);
	if (done == total)
		fputc('\n', stderr);
}

static int sink_write(struct sink *k, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t n = k->sparse ? pwrite(k->fd, p, len, (off_t)off) : write(k->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE && k->epipe_quiet) {
			k->epipe = true;
			return -EPIPE;
		}
		if (n <= 0)
			return file_error(k->name, "%s", n < 0 ? strerror(errno) : "short write"),
			       -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return !len || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Data read from the image; a sparse sink gets only the blocks that are not zero. */
static int sink_data(struct sink *k, const unsigned char *buf, size_t len, uint64_t off)
{
	if (!k->sparse)
		return sink_write(k, buf, len, off);
	size_t i = 0, start;
	while (i < len) {
		/* Blocks aligned on guest offsets, so that holes are too. */
		size_t blk = ZERO_BLOCK - (size_t)((off + i) % ZERO_BLOCK);
		if (blk > len - i)
			blk = len - i;
		if (all_zero(buf + i, blk)) {
			i += blk;
			continue;
		}
		for (start = i; i < len; i += blk) {
			blk = ZERO_BLOCK - (size_t)((off + i) % ZERO_BLOCK);
			if (blk > len - i)
				blk = len - i;
			if (all_zero(buf + i, blk))
				break;
		}
		int r = sink_write(k, buf + start, i - start, off + start);
		if (r < 0)
			return r;
	}
	return 0;
}

static int sink_zeros(struct sink *k, uint64_t len, uint64_t off)
{
	static const unsigned char zeros[64 << 10];
	if (k->sparse)
		return 0;
	while (len) {
		size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
		int r = sink_write(k, zeros, n, off);
		if (r < 0)
			return r;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * Copies the guest bytes of img to k, asking the driver which ranges read
 * as zeros so that they are neither read nor (for a sparse sink) written.
 * Returns 0, or 1 after printing the error. Trusts no status the driver
 * gives: a run must be 1 to `want` bytes long.
 */
static int copy_image(struct vdisk_image *img, const char *name, struct sink *k,
		      struct progress *p)
{
	uint64_t size = img->info.virtual_size, off = 0, span = BUF_SIZE;
	struct vdisk_err err = {""};
	unsigned char *buf = malloc(BUF_SIZE);
	int r = 0;
	if (!buf)
		return file_error(name, "%s", strerror(ENOMEM));
	progress_draw(p, 0, size);
	while (off < size) {
		uint64_t want = size - off < span ? size - off : span, n = 0;
		err.msg[0] = 0;
		int st = img->fmt->status(img->state, off, want, &n, &err);
		if (st < 0) {
			r = file_error(name, "at offset %llu: %s", (unsigned long long)off,
				       err.msg[0] ? err.msg : strerror(-st));
			break;
		}
		if ((st != VDISK_DATA && st != VDISK_ZERO) || n == 0 || n > want) {
			r = file_error(name, "format driver %s gave a bad status at offset %llu",
				       img->format, (unsigned long long)off);
			break;
		}
		if (st == VDISK_ZERO) {
			if (n == want && span < MAX_SPAN)
				span *= 2;
			if (sink_zeros(k, n, off) < 0)
				break;
		} else {
			span = BUF_SIZE;
			if (n > BUF_SIZE)
				n = BUF_SIZE;
			err.msg[0] = 0;
			int e = img->fmt->read(img->state, buf, (size_t)n, off, &err);
			if (e < 0) {
				r = file_error(name, "read at offset %llu: %s",
					       (unsigned long long)off,
					       err.msg[0] ? err.msg : strerror(-e));
				break;
			}
			if (sink_data(k, buf, (size_t)n, off) < 0)
				break;
		}
		off += n;
		progress_draw(p, off, size);
	}
	free(buf);
	if (r || k->epipe)
		return r;
	return off == size ? 0 : 1; /* a failed write, already reported */
}

static int cmd_cat(int argc, char **argv)
{
	static const char *const names[] = {"IMAGE"};
	struct opts o = {0};
	int r = prepare(argc, argv, "foU", &o, names, 1);
	if (r >= 0)
		return r;
	const char *name = argv[optind];
	struct vdisk_err err = {""};
	struct vdisk_image *img;
	if (image_open(host, name, o.format, 0, &img, &err) < 0)
		return file_error(name, "%s", err.msg);
	struct sink k = {.fd = STDOUT_FILENO, .name = "standard output", .epipe_quiet = true};
	struct progress p = {false, -1};
	r = copy_image(img, name, &k, &p);
	image_close(img);
	return r;
}

/*
 * The temporary output of a convert in progress, removed by the handler of
 * SIGINT, SIGTERM and SIGHUP before the signal ends vdisk as it would have.
 */
static char temp_path[PATH_MAX];
static volatile sig_atomic_t temp_live;

static void remove_temp_and_die(int sig)
{
	if (temp_live)
		unlink(temp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Copies img into fd (out's name for messages): 0, or 1 after the error. */
static int copy_to(struct vdisk_image *img, const char *name, const char *out, int fd,
		   bool sparse, const struct opts *o)
{
	struct vdisk_err err = {""};
	uint64_t size = img->info.virtual_size;
	if (host_lock_output(fd, &err) < 0)
		return file_error(out, "%s", err.msg);
	struct sink k = {.fd = fd, .name = out, .sparse = sparse};
	if (sparse && ftruncate(fd, (off_t)size) < 0)
		return file_error(out, "%s", strerror(errno));
	struct progress p = {o->progress && isatty(STDERR_FILENO), -1};
	int r = copy_image(img, name, &k, &p);
	if (p.on && p.shown >= 0 && p.shown < 1000)
		fputc('\n', stderr); /* end an unfinished bar before the error */
	return r;
}

/* A device (or anything but a regular file): written where it is. */
static int write_in_place(struct vdisk_image *img, const char *name, const char *out,
			  const struct opts *o)
{
	int fd = open(out, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return file_error(out, "%s", strerror(errno));
	int r = copy_to(img, name, out, fd, false, o);
	if (close(fd) < 0 && !r)
		r = file_error(out, "%s", strerror(errno));
	return r;
}

/*
 * A regular file (old: its stat, or NULL when there is none): written to a
 * new file beside it, created with O_EXCL, renamed over it once complete.
 * Until then the old file (or no file) is what a reader sees;
 * an error or a signal removes the new one.
 */
static int write_beside(struct vdisk_image *img, const char *name, const char *out,
			const struct stat *old, const struct opts *o)
{
	const char *slash = strrchr(out, '/');
	int dirlen = slash ? (int)(slash - out + 1) : 0;
	struct vdisk_err err = {""};
	if (old && host_check_output(out, &err) < 0)
		return file_error(out, "%s", err.msg);
	mode_t mask = umask(0);
	umask(mask);
	mode_t mode = old ? old->st_mode & 07777 : 0666 & ~mask;
	/* Signals wait until the handler knows the file: none can leave it behind. */
	sigset_t stop, was;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &was);
	struct sigaction sa = {.sa_handler = remove_temp_and_die};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int fd = -1;
	for (unsigned tries = 0; fd < 0 && tries < 100; tries++) {
		int n = snprintf(temp_path, sizeof temp_path, "%.*s.%s.vdisk-%ld-%u", dirlen, out,
				 out + dirlen, (long)getpid(), tries);
		if (n < 0 || (size_t)n >= sizeof temp_path) {
			errno = ENAMETOOLONG;
			break;
		}
		fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd >= 0)
		temp_live = 1;
	int e = errno;
	sigprocmask(SIG_SETMASK, &was, NULL);
	if (fd < 0)
		return file_error(out, "cannot create a file beside it: %s", strerror(e));
	int r = copy_to(img, name, out, fd, true, o);
	if (!r && (old && fchmod(fd, mode) < 0))
		r = file_error(out, "%s", strerror(errno));
	if (close(fd) < 0 && !r)
		r = file_error(out, "%s", strerror(errno));
	if (!r && rename(temp_path, out) < 0)
		r = file_error(out, "%s", strerror(errno));
	if (r)
		unlink(temp_path);
	temp_live = 0;
	return r;
}

static int cmd_convert(int argc, char **argv)
{
	static const char *const names[] = {"IMAGE", "OUTPUT"};
	struct opts o = {0};
	int r = prepare(argc, argv, "pfOoU", &o, names, 2);
	if (r >= 0)
		return r;
	const char *name = argv[optind], *out = argv[optind + 1];
	struct vdisk_err err = {""};
	struct vdisk_image *img;
	if (image_open(host, name, o.format, 0, &img, &err) < 0)
		return file_error(name, "%s", err.msg);
	uint64_t size = img->info.virtual_size;
	if (size > (uint64_t)INT64_MAX) {
		image_close(img);
		return file_error(name, "virtual size %llu is too large for a raw file",
				  (unsigned long long)size);
	}

	struct stat st;
	bool exists = stat(out, &st) == 0;
	/* By device and inode: through symbolic and hard links, any file read
	 * (the image, its backing files, its extents) is refused. */
	if (exists && source_in_use(host, st.st_dev, st.st_ino)) {
		r = file_error(out, "is a file that %s reads; not overwriting it", name);
		goto out;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		r = write_in_place(img, name, out, &o);
		goto out;
	}
	r = write_beside(img, name, out, exists ? &st : NULL, &o);
out:
	image_close(img);
	return r;
}

/* ---- formats ----------------------------------------------------------------------- */

struct feature_set {
	struct lm_feature_info *v;
	size_t n, cap;
};

static int add_feature(void *data, const struct lm_feature_info *f)
{
	struct feature_set *s = data;
	/* The host's own file protocol comes first and a module cannot replace it. */
	if (!strcmp(f->kind, VDISK_KIND_PROTOCOL) && !strcmp(f->name, "file"))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct lm_feature_info *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return 1; /* lazymod's own errors are negative */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *f;
	return 0;
}

static const struct lm_feature_info builtin_file = {
	.kind = VDISK_KIND_PROTOCOL,
	.name = "file",
	.module = "",
	.module_version = LAZYMOD_VERSION,
	.description = "local files and block devices (built into vdisk)",
	.package = "",
	.path = "",
	.builtin = 1,
	.loaded = 1,
};

static void formats_json(const char *title, const struct feature_set *s, bool last)
{
	printf("    \"%s\": [", title);
	for (size_t i = 0; i < s->n; i++) {
		const struct lm_feature_info *f = &s->v[i];
		printf("%s\n        {\"name\": ", i ? "," : "");
		json_str(f->name);
		printf(", \"module\": ");
		if (f->module[0])
			json_str(f->module);
		else
			printf("null");
		printf(", \"version\": ");
		json_str(f->module_version);
		printf(", \"description\": ");
		json_str(f->description);
		printf(", \"builtin\": %s, \"loaded\": %s}", f->builtin ? "true" : "false",
		       f->loaded ? "true" : "false");
	}
	printf("%s]%s\n", s->n ? "\n    " : "", last ? "" : ",");
}

static void formats_human(const char *title, const struct feature_set *s)
{
	printf("%s:\n", title);
	if (!s->n)
		printf("  (none)\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct lm_feature_info *f = &s->v[i];
		printf("  %-8s %s", f->name, f->description);
		if (f->module[0])
			printf(" [module %s %s%s%s]", f->module, f->module_version,
			       f->builtin ? ", built in" : "", f->loaded ? ", loaded" : "");
		putchar('\n');
	}
}

static int cmd_formats(int argc, char **argv)
{
	static const char *const kinds[] = {VDISK_KIND_FORMAT, VDISK_KIND_PROTOCOL,
					    VDISK_KIND_CODEC};
	static const char *const titles[] = {"formats", "protocols", "codecs"};
	static const char *const human_titles[] = {"Formats", "Protocols", "Codecs"};
	struct opts o = {0};
	int r = prepare(argc, argv, "j", &o, NULL, 0);
	if (r >= 0)
		return r;
	struct feature_set sets[3] = {{0}};
	sets[1].v = malloc(sizeof builtin_file);
	if (sets[1].v) {
		sets[1].v[0] = builtin_file;
		sets[1].n = sets[1].cap = 1;
	}
	r = sets[1].v ? 0 : 1;
	for (int i = 0; i < 3 && r == 0; i++)
		r = lm_list(host_context(host), kinds[i], add_feature, &sets[i]);
	if (r) {
		r = file_error("modules", "%s", r > 0 ? strerror(ENOMEM) : lm_errdetail(host_context(host)));
	} else {
		if (o.json)
			printf("{\n");
		for (int i = 0; i < 3; i++)
			if (o.json)
				formats_json(titles[i], &sets[i], i == 2);
			else
				formats_human(human_titles[i], &sets[i]);
		if (o.json)
			printf("}\n");
		r = finish_stdout(0);
	}
	for (int i = 0; i < 3; i++)
		free(sets[i].v);
	return r;
}

/* ---- main ---------------------------------------------------------------------------- */

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{"info", cmd_info},	  {"probe", cmd_probe},	    {"cat", cmd_cat},
	{"convert", cmd_convert}, {"formats", cmd_formats}, {"help", cmd_help},
};

int main(int argc, char **argv)
{
	/* cat notices a reader that went away as EPIPE, and stops quietly. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return usage_error("no command given");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("vdisk %s (lazymod %s, modules: %s)\n", LAZYMOD_VERSION, lm_version(),
		       VDISK_MODE);
		return finish_stdout(0);
	}
	if (cmd[0] == '-')
		return usage_error("unknown option %s", cmd);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		if (!(host = host_new())) {
			fprintf(stderr, "vdisk: %s\n", strerror(ENOMEM));
			return EXIT_FAILURE;
		}
		int r = commands[i].run(argc - 1, argv + 1);
		host_free(host);
		return r;
	}
	return usage_error("unknown command %s", cmd);
}
