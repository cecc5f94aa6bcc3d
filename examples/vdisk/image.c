/* SPDX-License-Identifier: MIT */
/*
 * image.c - vdisk's image layer: the lazymod context, the built-in "file"
 * protocol, probing, opening images and their backing chains, and the
 * service table every driver gets through lm_options.host.
 *
 * Nothing here trusts a driver more than it must: the objects modules
 * register are checked before use, the info they fill is re-terminated,
 * and reads of backing images are checked against their size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

struct lm_context *vdisk_ctx;
bool host_follow_backing = true;

/* Local sources currently open, so that convert never overwrites one. */
static struct source *open_sources;

/*
 * The local files whose format driver is opening them right now, innermost
 * first. Drivers open backing files from their open(), so this is the
 * chain from the user's image down to the one being opened: meeting a
 * file again means the chain loops.
 */
struct frame {
	bool local;
	dev_t dev;
	ino_t ino;
	const char *name; /* remote sources: the URI */
	struct meta_budget *budget; /* the chain's: backing files opened now share it */
	struct frame *up;
};
static struct frame *opening;

__attribute__((format(printf, 3, 4))) static int fail(struct vdisk_err *err, int code,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

/* Prefixes err with "what label: " (a backing file's path); NULL leaves it alone. */
static void relabel(struct vdisk_err *err, const char *what, const char *label)
{
	char msg[2 * VDISK_ERRLEN + 32];
	if (!label)
		return;
	snprintf(msg, sizeof msg, "%s%.*s: %s", what, VDISK_ERRLEN, label, err->msg);
	/* Cut at VDISK_ERRLEN: a long chain of labels may cost the cause its end. */
	size_t n = strnlen(msg, sizeof err->msg - 1);
	memcpy(err->msg, msg, n);
	err->msg[n] = 0;
}

/* A negative errno value for a lazymod error, for drivers' return values. */
static int lm_errno(int r)
{
	switch (r) {
	case LM_E_NOTFOUND:
	case LM_E_NEEDLIB:
		return -ENOENT;
	case LM_E_NOMEM:
		return -ENOMEM;
	case LM_E_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* ---- the built-in "file" protocol ------------------------------------------ */

static int file_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct source *s = (struct source *)((char *)src - offsetof(struct source, file));
	if (off > src->size || len > src->size - off)
		return -EIO;
	while (len) {
		ssize_t n = pread(s->fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* 0: the file shrank under us */
			return n < 0 ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int open_local(struct source *s, const char *path, struct vdisk_err *err)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
	s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (s->fd < 0 || fstat(s->fd, &st) < 0)
		return fail(err, -errno, "%s", strerror(errno));
	if (S_ISREG(st.st_mode)) {
		s->file.size = (uint64_t)st.st_size;
		s->allocated = (uint64_t)st.st_blocks * 512;
	} else if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(s->fd, 0, SEEK_END);
		if (end < 0)
			return fail(err, -errno, "%s", strerror(errno));
		s->file.size = (uint64_t)end;
		s->allocated = UINT64_MAX;
	} else if (S_ISDIR(st.st_mode)) {
		return fail(err, -EISDIR, "%s", strerror(EISDIR));
	} else {
		return fail(err, -EINVAL, "not a regular file or block device");
	}
	s->local = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->file.pread = file_pread;
	s->file.name = s->name;
	s->src = &s->file;
	return 0;
}

/* ---- protocol modules ----------------------------------------------------- */

/* Length of the scheme of "scheme://...", or 0 for a plain path. */
static size_t scheme_len(const char *name)
{
	size_t n = 0;
	/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); no locale. */
	if (!((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z'))
		return 0;
	while (((name[n] | 0x20) >= 'a' && (name[n] | 0x20) <= 'z') ||
	       (name[n] >= '0' && name[n] <= '9') || (name[n] && strchr("+-.", name[n])))
		n++;
	return strncmp(name + n, "://", 3) ? 0 : n;
}

/*
 * Protocol options, -o KEY=VALUE on the command line: the host knows every
 * key, so that a misspelt one is a usage error before anything is opened,
 * and which protocol modules take it, so that an option the image's
 * protocol does not take is refused rather than ignored, while a backing
 * file on another protocol gets only the options that apply to it. The
 * modules check the values again: they trust no caller.
 */
enum opt_value { OV_PATH, OV_ONOFF, OV_YESNO, OV_SECONDS };
static const struct protocol_option {
	const char *key;
	enum opt_value value;
	const char *modules; /* the protocol modules that take it, space-separated */
} protocol_options[] = {
	{"sslverify", OV_ONOFF, "http"},
	{"cacert", OV_PATH, "http"},
	{"timeout", OV_SECONDS, "http sftp"},
	{"connect_timeout", OV_SECONDS, "http sftp"},
	{"identity", OV_PATH, "sftp"},
	{"known_hosts", OV_PATH, "sftp"},
	{"host_key_check", OV_YESNO, "sftp"},
};
#define N_PROTOCOL_OPTIONS (sizeof protocol_options / sizeof protocol_options[0])
/* Ample for the keys above given each several times. */
#define MAX_OPTIONS 64
static const char *options[MAX_OPTIONS + 1];
static unsigned n_options;

static const struct protocol_option *find_option(const char *kv)
{
	size_t klen = strcspn(kv, "=");
	for (size_t i = 0; i < N_PROTOCOL_OPTIONS; i++)
		if (strlen(protocol_options[i].key) == klen &&
		    !strncmp(protocol_options[i].key, kv, klen))
			return &protocol_options[i];
	return NULL;
}

/* Whether the space-separated list has word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

int host_add_option(const char *kv, struct vdisk_err *err)
{
	const struct protocol_option *o = find_option(kv);
	const char *eq = strchr(kv, '=');
	if (!eq)
		return fail(err, -EINVAL, "option %.80s: KEY=VALUE expected", kv);
	if (!o) {
		char known[256] = "";
		for (size_t i = 0; i < N_PROTOCOL_OPTIONS; i++)
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
				 i ? ", " : "", protocol_options[i].key);
		return fail(err, -EINVAL, "unknown option %.*s (known: %s)",
			    (int)(eq - kv < 80 ? eq - kv : 80), kv, known);
	}
	const char *v = eq + 1;
	bool ok = false;
	switch (o->value) {
	case OV_PATH:
		ok = *v != 0;
		break;
	case OV_ONOFF:
		ok = !strcmp(v, "on") || !strcmp(v, "off");
		break;
	case OV_YESNO:
		ok = !strcmp(v, "yes") || !strcmp(v, "no");
		break;
	case OV_SECONDS: {
		char *end;
		errno = 0;
		unsigned long x = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
		ok = x >= 1 && x <= 86400 && !errno && !*end;
		break;
	}
	}
	if (!ok)
		return fail(err, -EINVAL, "option %s: bad value \"%.80s\" (%s)", o->key, v,
			    o->value == OV_PATH	   ? "a file name"
			    : o->value == OV_ONOFF ? "on or off"
			    : o->value == OV_YESNO ? "yes or no"
						   : "whole seconds, 1 to 86400");
	if (n_options == MAX_OPTIONS)
		return fail(err, -E2BIG, "more than %d -o options", MAX_OPTIONS);
	options[n_options++] = kv;
	return 0;
}

/* The protocol feature for the URI name; 0, LM_E_NOMATCH or another lazymod error. */
static int find_protocol(const char *name, struct lm_probe_result *res)
{
	struct lm_probe_input in = {.size = UINT64_MAX, .name = name};
	return lm_probe(vdisk_ctx, VDISK_KIND_PROTOCOL, &in, res);
}

int host_check_options(const char *name, struct vdisk_err *err)
{
	size_t slen = scheme_len(name);
	struct lm_probe_result res;
	if (!n_options)
		return 0;
	if (!slen || (slen == 4 && !strncmp(name, "file", 4)))
		return fail(err, -EINVAL, "option %.*s does not apply to local files",
			    (int)strcspn(options[0], "="), options[0]);
	/* Loads nothing: the index's scheme rules decide. An unknown scheme is
	 * reported when the image is opened. */
	if (find_protocol(name, &res) < 0)
		return 0;
	for (unsigned i = 0; i < n_options; i++) {
		const struct protocol_option *o = find_option(options[i]);
		if (!has_word(o->modules, res.module))
			return fail(err, -EINVAL,
				    "option %s does not apply to %.*s:// (it is for %s)", o->key,
				    (int)slen, name, o->modules);
	}
	return 0;
}

static int open_remote(struct source *s, size_t slen, struct vdisk_err *err)
{
	struct lm_probe_result res;
	const void *obj;
	int r = find_protocol(s->name, &res);
	if (r == LM_E_NOMATCH)
		return fail(err, -EPROTONOSUPPORT, "no protocol module handles %.*s://", (int)slen,
			    s->name);
	if (r == 0)
		r = lm_get(vdisk_ctx, VDISK_KIND_PROTOCOL, res.name, &obj);
	if (r < 0)
		return fail(err, lm_errno(r), "protocol %.*s: %s (%s)", (int)slen, s->name,
			    lm_strerror(r), lm_errdetail(vdisk_ctx));
	const struct vdisk_protocol *p = obj;
	if (!p || p->abi != VDISK_PROTOCOL_ABI || !p->open || !p->close)
		return fail(err, -EINVAL, "protocol module %s registers no valid protocol",
			    res.module);
	/* The options this protocol takes, in the order given: the last of a key wins. */
	const char *mine[MAX_OPTIONS + 1];
	unsigned n = 0;
	for (unsigned i = 0; i < n_options; i++)
		if (has_word(find_option(options[i])->modules, res.module))
			mine[n++] = options[i];
	mine[n] = NULL;
	struct vdisk_source *src = NULL;
	err->msg[0] = 0;
	r = p->open(s->name, mine, &src, err);
	if (r < 0) {
		if (!err->msg[0])
			fail(err, r, "%s", strerror(-r));
		return r;
	}
	if (!src || !src->pread) {
		if (src)
			p->close(src);
		return fail(err, -EINVAL, "protocol %s opened no readable source", res.name);
	}
	s->proto = p;
	s->src = src;
	s->allocated = UINT64_MAX;
	return 0;
}

/*
 * Why the last pread of a protocol's source failed, from source_error:
 * kept until the command shows it (host_take_source_error). The first
 * cause is kept: later failures are usually its consequences.
 */
static char source_error_msg[VDISK_ERRLEN + 128];
static bool source_error_pending;

static void svc_source_error(struct vdisk_source *src, const char *msg)
{
	if (!msg || source_error_pending)
		return;
	const char *name = src && src->name ? src->name : "(source)";
	snprintf(source_error_msg, sizeof source_error_msg, "%.120s: %.*s", name,
		 VDISK_ERRLEN - 1, msg);
	/* A protocol's message may quote what a server sent: printable only. */
	for (char *p = source_error_msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	source_error_pending = true;
}

const char *host_take_source_error(void)
{
	if (!source_error_pending)
		return NULL;
	source_error_pending = false;
	return source_error_msg;
}

/* ---- sources ---------------------------------------------------------------- */

int source_open(const char *name, struct source **out, struct vdisk_err *err)
{
	struct source *s = calloc(1, sizeof *s);
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return fail(err, -ENOMEM, "out of memory");
	}
	s->fd = -1;
	size_t slen = scheme_len(name);
	int r;
	if (slen == 4 && !strncmp(name, "file", 4))
		r = open_local(s, name + 7, err); /* file:///a/b is /a/b */
	else if (slen)
		r = open_remote(s, slen, err);
	else
		r = open_local(s, name, err);
	if (r < 0) {
		s->src = NULL; /* nothing for source_close to hand back to a protocol */
		source_close(s);
		return r;
	}
	s->next = open_sources;
	open_sources = s;
	*out = s;
	return 0;
}

/* Drops a reference to b; the last one frees it. */
static void budget_unref(struct meta_budget *b)
{
	if (b && !--b->refs)
		free(b);
}

void source_close(struct source *s)
{
	if (!s)
		return;
	if (s->budget) {
		s->budget->used -= s->reserved;
		budget_unref(s->budget);
	}
	for (struct source **p = &open_sources; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	if (s->proto && s->src)
		s->proto->close(s->src);
	if (s->fd >= 0)
		close(s->fd);
	free(s->name);
	free(s);
}

bool source_in_use(dev_t dev, ino_t ino)
{
	for (struct source *s = open_sources; s; s = s->next)
		if (s->local && s->dev == dev && s->ino == ino)
			return true;
	return false;
}

int source_probe(struct source *s, struct lm_probe_result *res, struct vdisk_err *err)
{
	uint64_t size = s->src->size;
	size_t n = size < VDISK_PROBE_BYTES ? (size_t)size : VDISK_PROBE_BYTES;
	unsigned char *buf = malloc(2 * (size_t)VDISK_PROBE_BYTES);
	if (!buf)
		return fail(err, -ENOMEM, "out of memory");
	unsigned char *head = buf, *tail = buf + VDISK_PROBE_BYTES;
	int r = n ? s->src->pread(s->src, head, n, 0) : 0;
	if (r == 0 && n)
		r = s->src->pread(s->src, tail, n, size - n);
	if (r < 0) {
		free(buf);
		return fail(err, r, "cannot read it to find its format: %s", strerror(-r));
	}
	struct lm_probe_input in = {head, n, tail, n, size, s->name};
	r = lm_probe(vdisk_ctx, VDISK_KIND_FORMAT, &in, res);
	free(buf);
	if (r == LM_E_NOMATCH)
		return fail(err, -ENOENT, "unknown format (no format module recognises it)");
	if (r < 0)
		return fail(err, lm_errno(r), "cannot find its format: %s (%s)", lm_strerror(r),
			    lm_errdetail(vdisk_ctx));
	return 0;
}

/* ---- images ------------------------------------------------------------------- */

/* Re-terminates the strings a driver filled and clamps its counts. */
static void sanitize_info(struct vdisk_info *i)
{
	i->backing_file[sizeof i->backing_file - 1] = 0;
	i->backing_format[sizeof i->backing_format - 1] = 0;
	i->compression[sizeof i->compression - 1] = 0;
	if (i->n_specific > VDISK_MAX_KV)
		i->n_specific = VDISK_MAX_KV;
	for (unsigned k = 0; k < i->n_specific; k++) {
		struct vdisk_kv *kv = &i->specific[k];
		kv->key[sizeof kv->key - 1] = 0;
		kv->value[sizeof kv->value - 1] = 0;
		kv->is_number = !!kv->is_number;
	}
}

static int get_format(const char *name, const struct vdisk_format **out, struct vdisk_err *err)
{
	const void *obj;
	int r = lm_get(vdisk_ctx, VDISK_KIND_FORMAT, name, &obj);
	if (r == LM_E_NOTFOUND)
		return fail(err, -ENOENT, "unknown format %s (%s)", name, lm_errdetail(vdisk_ctx));
	if (r < 0)
		return fail(err, lm_errno(r), "format %s: %s (%s)", name, lm_strerror(r),
			    lm_errdetail(vdisk_ctx));
	const struct vdisk_format *f = obj;
	if (!f || f->abi != VDISK_FORMAT_ABI || !f->open || !f->read || !f->status || !f->info ||
	    !f->close)
		return fail(err, -EINVAL, "the module of format %s registers no valid driver",
			    name);
	*out = f;
	return 0;
}

/*
 * Whether the error of the open that is failing names a backing file
 * already: only the deepest image of a chain is named, so that the labels
 * of a long chain do not push the cause out of the message.
 */
static bool labelled;

/* label: NULL for the user's image, else the path to name in messages. */
static int open_image(const char *name, const char *format, unsigned depth, const char *label,
		      struct vdisk_image **out, struct vdisk_err *err)
{
	struct vdisk_image *img = NULL;
	int r;

	labelled = false;
	if (depth >= VDISK_MAX_CHAIN) {
		r = fail(err, -ELOOP, "backing chain longer than %d images", VDISK_MAX_CHAIN);
		goto out;
	}
	img = calloc(1, sizeof *img);
	if (!img) {
		r = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = source_open(name, &img->source, err);
	if (r < 0)
		goto out;
	struct source *s = img->source;
	/* A remote file is known by its URI only: a loop through another
	 * spelling of it still ends at VDISK_MAX_CHAIN. */
	for (struct frame *f = opening; f; f = f->up)
		if (s->local ? f->local && f->dev == s->dev && f->ino == s->ino
			     : !f->local && !strcmp(f->name, s->name)) {
			r = fail(err, -ELOOP, "the backing chain loops back to this file");
			goto out;
		}
	if (!format || !*format) {
		r = source_probe(s, &img->probe, err);
		if (r < 0)
			goto out;
		format = img->probe.name;
	}
	if (strlen(format) >= sizeof img->format) {
		r = fail(err, -EINVAL, "format name %.80s... too long", format);
		goto out;
	}
	snprintf(img->format, sizeof img->format, "%s", format);
	r = get_format(img->format, &img->fmt, err);
	if (r < 0)
		goto out;

	/* The user's image starts a budget; its backing files, opened from
	 * inside its driver's open, draw on the same one. */
	struct meta_budget *b = opening ? opening->budget : NULL;
	if (b) {
		b->refs++;
	} else if ((b = calloc(1, sizeof *b))) {
		b->limit = VDISK_META_BUDGET;
		b->refs = 1;
	} else {
		r = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	s->budget = b;
	struct frame me = {s->local, s->dev, s->ino, s->name, b, opening};
	opening = &me;
	err->msg[0] = 0;
	r = img->fmt->open(s->src, depth, &img->state, err);
	opening = me.up;
	if (r < 0) {
		if (!err->msg[0])
			fail(err, r, "%s", strerror(-r));
		img->fmt = NULL; /* a driver cleans up after its own failed open */
		goto out;
	}
	img->fmt->info(img->state, &img->info);
	sanitize_info(&img->info);
	*out = img;
	return 0;
out:
	image_close(img);
	if (label && !labelled) {
		relabel(err, "backing file ", label);
		labelled = true;
	}
	return r < 0 ? r : -EIO;
}

int image_open(const char *name, const char *format, unsigned depth, struct vdisk_image **out,
	       struct vdisk_err *err)
{
	return open_image(name, format, depth, NULL, out, err);
}

void image_close(struct vdisk_image *img)
{
	if (!img)
		return;
	if (img->fmt)
		img->fmt->close(img->state);
	source_close(img->source);
	free(img->name);
	free(img);
}

/* Whether name is a URI that a protocol module reads (not a path, not file://). */
static bool is_remote(const char *name)
{
	size_t slen = scheme_len(name);
	return slen && !(slen == 4 && !strncmp(name, "file", 4));
}

/* RFC 3986's remove_dot_segments on a path that starts with '/', in place. */
static void remove_dot_segments(char *p)
{
	char *w = p;
	const char *r = p;
	bool dir = false; /* a dot segment ended the path: it names a directory */
	while (*r == '/') {
		const char *seg = r + 1;
		size_t len = strcspn(seg, "/");
		r = seg + len;
		dir = false;
		if (len == 1 && seg[0] == '.') {
			dir = true;
		} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (w > p && *--w != '/')
				;
			dir = true;
		} else {
			/* The output never outruns the input: w <= seg - 1. */
			*w++ = '/';
			memmove(w, seg, len);
			w += len;
		}
	}
	if (dir)
		*w++ = '/';
	*w = 0;
}

/*
 * A backing file named in a remote image, against the image's URI: same
 * scheme and host, the path relative to the image's directory (or, for an
 * absolute path, from the root). The name is a file name, not a URI
 * reference, so it is percent-encoded: "a b?.qcow2" must not end the path.
 */
static int resolve_remote(const char *base, const char *backing, char *out, size_t len)
{
	const char *auth = base + scheme_len(base) + 3;
	const char *path = auth + strcspn(auth, "/?#");
	const char *path_end = path + strcspn(path, "?#");
	size_t keep; /* bytes of base kept: up to the last '/' of its path, included */
	if (backing[0] == '/') {
		keep = (size_t)(path - base);
	} else {
		const char *slash = NULL;
		for (const char *p = path; p < path_end; p++)
			if (*p == '/')
				slash = p;
		keep = slash ? (size_t)(slash + 1 - base) : (size_t)(path - base);
	}
	size_t w = 0;
	if (keep >= len)
		return -ENAMETOOLONG;
	memcpy(out, base, keep);
	w = keep;
	if (backing[0] != '/' && (!keep || out[keep - 1] != '/')) {
		if (w + 1 >= len)
			return -ENAMETOOLONG;
		out[w++] = '/';
	}
	for (const unsigned char *p = (const unsigned char *)backing; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("-._~/", *p);
		if (w + (plain ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (plain)
			out[w++] = (char)*p;
		else
			w += (size_t)snprintf(out + w, len - w, "%%%02X", *p);
	}
	out[w] = 0;
	remove_dot_segments(out + (path - base));
	return 0;
}

int resolve_backing(const char *base, const char *backing, char *out, size_t len)
{
	size_t dir = 0;
	if (is_remote(base)) {
		/* A remote image never makes vdisk read a local file. */
		if (scheme_len(backing) && !is_remote(backing))
			return -EPERM;
		if (!scheme_len(backing))
			return resolve_remote(base, backing, out, len);
	} else if (backing[0] != '/' && !scheme_len(backing)) {
		/* Absolute paths and URIs stand alone. */
		size_t slen = scheme_len(base);
		const char *from = slen ? base + slen + 3 : base;
		const char *slash = strrchr(from, '/');
		if (slash)
			dir = (size_t)(slash - base) + 1;
		else if (slen)
			dir = strlen(base); /* "file://host": its root */
	}
	int n = snprintf(out, len, "%.*s%s%s", (int)dir, base,
			 dir && base[dir - 1] != '/' ? "/" : "", backing);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the service table -------------------------------------------------------- */

static int svc_codec(const char *name, const struct vdisk_codec **codec, struct vdisk_err *err)
{
	const void *obj;
	if (!name || !codec || !err)
		return err ? fail(err, -EINVAL, "codec lookup without a name") : -EINVAL;
	int r = lm_get(vdisk_ctx, VDISK_KIND_CODEC, name, &obj);
	if (r < 0)
		return fail(err, lm_errno(r), "codec %.64s: %s (%s)", name, lm_strerror(r),
			    lm_errdetail(vdisk_ctx));
	const struct vdisk_codec *c = obj;
	if (!c || c->abi != VDISK_CODEC_ABI || !c->decompress)
		return fail(err, -EINVAL, "the module of codec %.64s registers no valid codec",
			    name);
	*codec = c;
	return 0;
}

static int svc_open_backing(const char *base, const char *backing, const char *format,
			    unsigned depth, struct vdisk_image **image, struct vdisk_err *err)
{
	char path[PATH_MAX];
	if (!err || !image)
		return -EINVAL;
	if (!base || !backing || !*backing)
		return fail(err, -EINVAL, "no backing file name");
	int r = resolve_backing(base, backing, path, sizeof path);
	if (r == -EPERM)
		return fail(err, -EPERM,
			    "backing file %.80s: a remote image cannot name a local file",
			    backing);
	if (r < 0)
		return fail(err, -ENAMETOOLONG, "backing file name %.80s...: too long", backing);
	if (!host_follow_backing) {
		struct vdisk_image *img = calloc(1, sizeof *img);
		if (!img || !(img->name = strdup(path))) {
			free(img);
			return fail(err, -ENOMEM, "out of memory");
		}
		*image = img;
		return 0;
	}
	return open_image(path, format, depth, path, image, err);
}

static int svc_image_read(struct vdisk_image *img, void *buf, size_t len, uint64_t off,
			  struct vdisk_err *err)
{
	if (!img || !err)
		return err ? fail(err, -EINVAL, "read of no image") : -EINVAL;
	if (!img->fmt)
		return fail(err, -EIO, "%s: backing file not opened", img->name);
	uint64_t size = img->info.virtual_size;
	if (off > size || len > size - off)
		return fail(err, -EIO, "%s: read of %zu bytes at %llu past its end (%llu bytes)",
			    img->source->name, len, (unsigned long long)off,
			    (unsigned long long)size);
	err->msg[0] = 0;
	int r = img->fmt->read(img->state, buf, len, off, err);
	if (r < 0) {
		if (!err->msg[0])
			fail(err, r, "%s", strerror(-r));
		relabel(err, "", img->source->name);
	}
	return r;
}

static int svc_meta_reserve(struct vdisk_source *src, uint64_t bytes, struct vdisk_err *err)
{
	struct source *s = open_sources;
	while (s && s->src != src)
		s = s->next;
	if (!s || !s->budget || !err)
		return err ? fail(err, -EINVAL, "metadata budget asked for an unknown source")
			   : -EINVAL;
	struct meta_budget *b = s->budget;
	if (bytes > b->limit - b->used)
		return fail(err, -EFBIG,
			    "%llu MiB more metadata would exceed the budget of %llu MiB for an "
			    "image and its backing chain (%llu MiB held)",
			    (unsigned long long)((bytes + (1 << 20) - 1) >> 20),
			    (unsigned long long)(b->limit >> 20),
			    (unsigned long long)((b->used + (1 << 20) - 1) >> 20));
	b->used += bytes;
	s->reserved += bytes;
	return 0;
}

static uint64_t svc_image_size(struct vdisk_image *img)
{
	return img && img->fmt ? img->info.virtual_size : 0;
}

static const struct vdisk_services services = {
	.version = VDISK_IFACE_MINOR,
	.size = sizeof(struct vdisk_services),
	.codec = svc_codec,
	.open_backing = svc_open_backing,
	.image_read = svc_image_read,
	.image_size = svc_image_size,
	.image_close = image_close,
	.source_error = svc_source_error,
	.meta_reserve = svc_meta_reserve,
};

/* ---- the context ---------------------------------------------------------------- */

struct feature_list {
	char **v; /* kind, name, kind, name, ... */
	size_t n, cap;
};

static int collect(void *data, const struct lm_feature_info *f)
{
	struct feature_list *l = data;
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return 1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(f->kind)))
		return 1;
	if (!(l->v[l->n + 1] = strdup(f->name))) {
		free(l->v[l->n]);
		return 1;
	}
	l->n += 2;
	return 0;
}

/*
 * Modes "eager" and "dlopen-all": every feature, so every module's init,
 * before the command runs. A module that fails is reported and left out;
 * a command that needs it then fails with the same cause.
 */
static void load_everything(void)
{
	struct feature_list l = {0};
	/* collect() returns 1 when out of memory: lazymod's errors are negative. */
	int r = lm_list(vdisk_ctx, NULL, collect, &l);
	if (r)
		fprintf(stderr, "vdisk: warning: cannot list the modules: %s\n",
			r > 0 ? strerror(ENOMEM) : lm_errdetail(vdisk_ctx));
	for (size_t i = 0; i < l.n; i += 2) {
		const void *obj;
		r = lm_get(vdisk_ctx, l.v[i], l.v[i + 1], &obj);
		if (r < 0)
			fprintf(stderr, "vdisk: warning: %s %s: %s (%s)\n", l.v[i], l.v[i + 1],
				lm_strerror(r), lm_errdetail(vdisk_ctx));
		free(l.v[i]);
		free(l.v[i + 1]);
	}
	free(l.v);
}

/*
 * What lazymod has to say that a user should hear: warnings (an index that
 * is missing, damaged or stale, and that vdisk reads the modules' notes
 * instead) and errors. Debug traces go to stderr through LAZYMOD_DEBUG.
 */
static void log_warning(void *data, int priority, const char *file, int line, const char *fn,
			const char *format, va_list args)
{
	(void)data, (void)file, (void)line, (void)fn;
	if (priority > LM_LOG_WARNING) {
		if (getenv("LAZYMOD_DEBUG")) {
			fputs("lazymod: debug: ", stderr);
			vfprintf(stderr, format, args);
			fputc('\n', stderr);
		}
		return;
	}
	fprintf(stderr, "vdisk: %s: ", priority <= LM_LOG_ERR ? "error" : "warning");
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

int host_start(struct vdisk_err *err)
{
	/*
	 * The built tree and the installed one share this layout. In modes
	 * builtin and eager the drivers are in the executable and lazymod finds
	 * them first; the directory may still hold add-on modules.
	 */
	static const char *const dirs[] = {"$ORIGIN/../lib/vdisk", NULL};
	struct lm_options o = {
		.dirs = dirs,
		.iface_major = VDISK_IFACE_MAJOR,
		.iface_minor = VDISK_IFACE_MINOR,
		.host = &services,
		.log = log_warning,
	};
	int r = lm_context_new(&o, &vdisk_ctx);
	if (r < 0)
		return fail(err, lm_errno(r), "cannot set up the modules: %s (%s)", lm_strerror(r),
			    lm_errdetail(NULL));
	if (!strcmp(VDISK_MODE, "eager") || !strcmp(VDISK_MODE, "dlopen-all"))
		load_everything();
	return 0;
}

void host_stop(void)
{
	vdisk_ctx = lm_context_unref(vdisk_ctx);
}
