/* SPDX-License-Identifier: MIT */
/*
 * image.c - vdisk's image layer: the host object (the lazymod context, the
 * options, the open sources and the service table its drivers get through
 * lm_options.host), the built-in "file" protocol, probing, opening images,
 * their backing chains and the files beside them. Nothing here is a process
 * global: everything hangs off a struct vdisk_host.
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
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/fileio.h"
#include "image.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

#ifndef VDISK_MODE
#define VDISK_MODE "lazy"
#endif

/*
 * A file whose format driver is opening it right now. Drivers open backing
 * files from their open(), so the frames of a host, innermost first, are
 * the chain from the user's image down to the one being opened: meeting a
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

/* Ample for the protocol options, each given several times. */
#define MAX_OPTIONS 64

struct vdisk_host {
	/* First: lm_options.host and every source's svc point here, and a
	 * service finds its host from it (host_of). */
	struct vdisk_services svc;
	struct lm_context *ctx; /* NULL until host_start */
	bool follow_backing;
	bool force_share;
	struct source *open_sources; /* every source open now: convert's inputs */
	struct frame *opening;
	const char *options[MAX_OPTIONS + 1]; /* -o KEY=VALUE, argv's strings */
	unsigned n_options;
	/* A protocol's cause of a failed read (source_error), kept until the
	 * command shows it. */
	char source_error_msg[VDISK_ERRLEN + 128];
	bool source_error_pending;
	/* Whether the error of the open that is failing names a backing file
	 * already: only the deepest image of a chain is named, so that the
	 * labels of a long chain do not push the cause out of the message. */
	bool labelled;
};

static struct vdisk_host *host_of(const struct vdisk_services *svc)
{
	return (struct vdisk_host *)((char *)svc - offsetof(struct vdisk_host, svc));
}

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

/* ---- locks, as QEMU takes them ----------------------------------------------- */

/*
 * QEMU (and qemu-img, qemu-io) marks what it does with an image file by
 * shared OFD locks on single bytes: byte LOCK_PERM + i while it holds
 * permission i, byte LOCK_SHARED + i while it does not let others have it.
 * Permission 0 is reading consistent data, 1 writing, 3 resizing. A
 * reader like qemu-img holds 100 and forbids writing and resizing (201,
 * 203); a writer holds 101 and 103. So vdisk can tell that a running QEMU
 * writes an image it is asked to read, and QEMU sees vdisk reading it.
 */
#define LOCK_PERM 100
#define LOCK_SHARED 200
#define PERM_READ 0
#define PERM_WRITE 1
#define PERM_RESIZE 3

static int lock_byte(int fd, short type, off_t byte)
{
	struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
	return fcntl(fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
}

/* Whether another open file holds byte as a lock that a write lock conflicts with. */
static bool byte_locked(int fd, off_t byte)
{
	struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
	return fcntl(fd, F_OFD_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

/*
 * An input: refused while another process writes or resizes it (unless
 * -U), then marked as read by vdisk, which forbids writing and resizing
 * while it reads. Filesystems without OFD locks (EINVAL, ENOLCK) read
 * unlocked, as QEMU does.
 */
static int lock_input(int fd, bool force_share, struct vdisk_err *err)
{
	if (force_share)
		return lock_byte(fd, F_RDLCK, LOCK_PERM + PERM_READ) == -EAGAIN
			       ? fail(err, -EBUSY, "locked by another process")
			       : 0;
	if (byte_locked(fd, LOCK_PERM + PERM_WRITE) || byte_locked(fd, LOCK_PERM + PERM_RESIZE))
		return fail(err, -EBUSY,
			    "another process (QEMU?) has it open for writing; reading it now "
			    "could give inconsistent data (-U, --force-share reads it anyway)");
	if (byte_locked(fd, LOCK_SHARED + PERM_READ))
		return fail(err, -EBUSY, "another process does not let it be read");
	static const off_t bytes[] = {LOCK_PERM + PERM_READ, LOCK_SHARED + PERM_WRITE,
				      LOCK_SHARED + PERM_RESIZE};
	for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++) {
		int r = lock_byte(fd, F_RDLCK, bytes[i]);
		if (r == -EAGAIN || r == -EACCES)
			return fail(err, -EBUSY, "another process has it open for writing "
						  "(-U, --force-share reads it anyway)");
		if (r < 0)
			return 0;
	}
	return 0;
}

int host_check_output(const char *path, struct vdisk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0; /* nothing to replace, or creating it says why */
	bool busy = false;
	for (off_t base = LOCK_PERM; base <= LOCK_SHARED; base += LOCK_SHARED - LOCK_PERM)
		busy = busy || byte_locked(fd, base + PERM_READ) ||
		       byte_locked(fd, base + PERM_WRITE) || byte_locked(fd, base + PERM_RESIZE);
	close(fd);
	return busy ? fail(err, -EBUSY, "another process (QEMU?) has it open; not replacing it")
		    : 0;
}

int host_lock_output(int fd, struct vdisk_err *err)
{
	/* Exclusive: no one may read, write or resize it while vdisk writes it. */
	for (off_t base = LOCK_PERM; base <= LOCK_SHARED; base += LOCK_SHARED - LOCK_PERM) {
		int r = lock_byte(fd, F_WRLCK, base) ?: lock_byte(fd, F_WRLCK, base + PERM_WRITE);
		if (!r)
			r = lock_byte(fd, F_WRLCK, base + PERM_RESIZE);
		if (r == -EAGAIN || r == -EACCES)
			return fail(err, -EBUSY,
				    "another process (QEMU?) has it open; not writing it");
	}
	return 0;
}

/* ---- the built-in "file" protocol ------------------------------------------ */

static int file_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct source *s = (struct source *)((char *)src - offsetof(struct source, file));
	if (off > src->size || len > src->size - off)
		return -EIO;
	return vdisk_read_at(s->fd, buf, len, off);
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
	int r = lock_input(s->fd, s->host->force_share, err);
	if (r < 0)
		return r;
	s->local = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->file.pread = file_pread;
	s->file.name = s->name;
	s->file.svc = &s->host->svc;
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
 * Where a name's bytes come from: a URI's scheme, user, host and port (the
 * server, and the login on it), or the local machine. Schemes and hosts
 * compare without case, and a port left out is the scheme's default, so
 * that http://h/ and HTTP://H:80/ are one origin; a port that does not
 * parse matches nothing.
 */
struct origin {
	const char *scheme; /* NULL: a local file */
	size_t scheme_len;
	const char *user; /* before '@', as written; NULL when none */
	size_t user_len;
	const char *host; /* without the brackets of an IPv6 address */
	size_t host_len;
	long port;	    /* -1: malformed */
	size_t shown;	    /* "scheme://authority" is name[0..shown) */
};

/* The schemes whose default ports the host knows; ssh:// is sftp:// spelt as QEMU does. */
static const struct {
	const char *scheme, *same_as;
	long port;
} default_ports[] = {
	{"http", "http", 80}, {"https", "https", 443}, {"sftp", "sftp", 22}, {"ssh", "sftp", 22},
};

static void origin_of(const char *name, struct origin *o)
{
	size_t slen = scheme_len(name);
	memset(o, 0, sizeof *o);
	if (!slen || (slen == 4 && !strncasecmp(name, "file", 4)))
		return;
	o->scheme = name;
	o->scheme_len = slen;
	const char *auth = name + slen + 3, *end = auth + strcspn(auth, "/?#");
	o->shown = (size_t)(end - name);
	for (const char *p = auth; p < end; p++)
		if (*p == '@') {
			o->user = auth;
			o->user_len = (size_t)(p - auth);
			auth = p + 1;
		}
	const char *port = NULL;
	o->host = auth;
	if (*auth == '[') {
		const char *close = memchr(auth, ']', (size_t)(end - auth));
		o->host = auth + 1;
		o->host_len = close ? (size_t)(close - o->host) : (size_t)(end - o->host);
		if (close && close + 1 < end)
			port = close[1] == ':' ? close + 2 : close + 1;
	} else {
		const char *colon = memchr(auth, ':', (size_t)(end - auth));
		o->host_len = (size_t)((colon ? colon : end) - auth);
		port = colon ? colon + 1 : NULL;
	}
	o->port = 0; /* unknown scheme, no port: its default, whatever it is */
	for (size_t i = 0; i < sizeof default_ports / sizeof default_ports[0]; i++)
		if (strlen(default_ports[i].scheme) == slen &&
		    !strncasecmp(name, default_ports[i].scheme, slen)) {
			o->scheme = default_ports[i].same_as;
			o->scheme_len = strlen(o->scheme);
			o->port = default_ports[i].port;
		}
	if (port && port < end) {
		long v = 0;
		for (const char *p = port; p < end && v >= 0; p++)
			v = *p >= '0' && *p <= '9' && v * 10 + (*p - '0') <= 65535
				    ? v * 10 + (*p - '0')
				    : -1;
		o->port = v;
	} else if (port) {
		o->port = -1; /* "host:" */
	}
}

/* Whether a and b are read from the same origin (two local names are). */
static bool same_origin(const char *a, const char *b)
{
	struct origin x, y;
	origin_of(a, &x);
	origin_of(b, &y);
	if (!x.scheme || !y.scheme)
		return !x.scheme && !y.scheme;
	return x.port >= 0 && x.port == y.port && x.scheme_len == y.scheme_len &&
	       !strncasecmp(x.scheme, y.scheme, x.scheme_len) && x.host_len == y.host_len &&
	       !strncasecmp(x.host, y.host, x.host_len) && !x.user == !y.user &&
	       x.user_len == y.user_len && (!x.user || !memcmp(x.user, y.user, x.user_len));
}

/*
 * Protocol options, -o KEY=VALUE on the command line: the host knows every
 * key, so that a misspelt one is a usage error before anything is opened,
 * and which protocol modules take it, so that an option the image's
 * protocol does not take is refused rather than ignored, while a backing
 * file on another protocol gets only the options that apply to it. The
 * modules check the values again: they trust no caller.
 *
 * An option that makes vdisk trust a server more (sslverify=off, a CA, a
 * key, a known hosts file) is given for the server of the user's image:
 * a backing file on another origin, which only -o backing_origin=any lets
 * vdisk open, never gets it. Timeouts only bound waiting: they go to every
 * source of their protocol.
 */
enum opt_value { OV_PATH, OV_ONOFF, OV_YESNO, OV_SECONDS, OV_ORIGIN };
static const struct protocol_option {
	const char *key;
	enum opt_value value;
	const char *modules; /* the protocol modules that take it, space-separated;
				NULL for vdisk's own */
	bool trust;	     /* given for the user's image's origin only */
} protocol_options[] = {
	{"sslverify", OV_ONOFF, "http", true},
	{"cacert", OV_PATH, "http", true},
	{"timeout", OV_SECONDS, "http sftp", false},
	{"connect_timeout", OV_SECONDS, "http sftp", false},
	{"identity", OV_PATH, "sftp", true},
	{"known_hosts", OV_PATH, "sftp", true},
	{"host_key_check", OV_YESNO, "sftp", true},
	{"backing_origin", OV_ORIGIN, NULL, false},
};
#define N_PROTOCOL_OPTIONS (sizeof protocol_options / sizeof protocol_options[0])

static const struct protocol_option *find_option(const char *kv)
{
	size_t klen = strcspn(kv, "=");
	for (size_t i = 0; i < N_PROTOCOL_OPTIONS; i++)
		if (strlen(protocol_options[i].key) == klen &&
		    !strncmp(protocol_options[i].key, kv, klen))
			return &protocol_options[i];
	return NULL;
}

/* The value of the last -o KEY=... given, or NULL. */
static const char *option_value(const struct vdisk_host *h, const char *key)
{
	const char *v = NULL;
	size_t klen = strlen(key);
	for (unsigned i = 0; i < h->n_options; i++)
		if (!strncmp(h->options[i], key, klen) && h->options[i][klen] == '=')
			v = h->options[i] + klen + 1;
	return v;
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

int host_add_option(struct vdisk_host *h, const char *kv, struct vdisk_err *err)
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
	case OV_ORIGIN:
		ok = !strcmp(v, "same") || !strcmp(v, "any");
		break;
	}
	if (!ok)
		return fail(err, -EINVAL, "option %s: bad value \"%.80s\" (%s)", o->key, v,
			    o->value == OV_PATH	    ? "a file name"
			    : o->value == OV_ONOFF  ? "on or off"
			    : o->value == OV_YESNO  ? "yes or no"
			    : o->value == OV_ORIGIN ? "same or any"
						    : "whole seconds, 1 to 86400");
	if (h->n_options == MAX_OPTIONS)
		return fail(err, -E2BIG, "more than %d -o options", MAX_OPTIONS);
	h->options[h->n_options++] = kv;
	return 0;
}

/* The protocol feature for the URI name; 0, LM_E_NOMATCH or another lazymod error. */
static int find_protocol(struct vdisk_host *h, const char *name, struct lm_probe_result *res)
{
	struct lm_probe_input in = {.size = UINT64_MAX, .name = name};
	return lm_probe(h->ctx, VDISK_KIND_PROTOCOL, &in, res);
}

int host_check_options(struct vdisk_host *h, const char *name, struct vdisk_err *err)
{
	size_t slen = scheme_len(name);
	struct lm_probe_result res;
	const char *const *options = h->options;
	/* vdisk's own options apply to any image: a local one may have a remote
	 * backing file, whose own backing file they concern. */
	unsigned first = 0;
	while (first < h->n_options && !find_option(options[first])->modules)
		first++;
	if (first == h->n_options)
		return 0;
	if (!slen || (slen == 4 && !strncmp(name, "file", 4)))
		return fail(err, -EINVAL, "option %.*s does not apply to local files",
			    (int)strcspn(options[first], "="), options[first]);
	/* Loads nothing: the index's scheme rules decide. An unknown scheme is
	 * reported when the image is opened. */
	if (find_protocol(h, name, &res) < 0)
		return 0;
	for (unsigned i = first; i < h->n_options; i++) {
		const struct protocol_option *o = find_option(options[i]);
		if (o->modules && !has_word(o->modules, res.module))
			return fail(err, -EINVAL,
				    "option %s does not apply to %.*s:// (it is for %s)", o->key,
				    (int)slen, name, o->modules);
	}
	return 0;
}

/* The name of the image the user named, while a backing file of it is opened; else NULL. */
static const char *user_image(const struct vdisk_host *h)
{
	const struct frame *f = h->opening;
	while (f && f->up)
		f = f->up;
	return f ? f->name : NULL;
}

/* backing: s is a backing file, which gets trust options only on the user's image's origin. */
static int open_remote(struct source *s, size_t slen, bool backing, struct vdisk_err *err)
{
	struct vdisk_host *h = s->host;
	struct lm_probe_result res;
	const void *obj;
	int r = find_protocol(h, s->name, &res);
	if (r == LM_E_NOMATCH)
		return fail(err, -EPROTONOSUPPORT, "no protocol module handles %.*s://", (int)slen,
			    s->name);
	if (r == 0)
		r = lm_get(h->ctx, VDISK_KIND_PROTOCOL, res.name, &obj);
	if (r < 0)
		return fail(err, lm_errno(r), "protocol %.*s: %s (%s)", (int)slen, s->name,
			    lm_strerror(r), lm_errdetail(h->ctx));
	const struct vdisk_protocol *p = obj;
	if (!p || !p->open || !p->close)
		return fail(err, -EINVAL, "protocol module %s registers no valid protocol",
			    res.module);
	/* The options this protocol takes, in the order given: the last of a key wins. */
	const char *top = backing ? user_image(h) : NULL;
	bool trusted = !backing || (top && same_origin(top, s->name));
	const char *mine[MAX_OPTIONS + 1];
	unsigned n = 0;
	for (unsigned i = 0; i < h->n_options; i++) {
		const struct protocol_option *o = find_option(h->options[i]);
		if (o->modules && has_word(o->modules, res.module) && (trusted || !o->trust))
			mine[n++] = h->options[i];
	}
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
	src->svc = &h->svc;
	s->src = src;
	s->allocated = UINT64_MAX;
	return 0;
}

/*
 * Why the last pread of a protocol's source failed: kept until the command
 * shows it (host_take_source_error). The first cause is kept: later
 * failures are usually its consequences.
 */
static void svc_source_error(struct vdisk_source *src, const char *msg)
{
	if (!src || !src->svc || !msg)
		return;
	struct vdisk_host *h = host_of(src->svc);
	char *source_error_msg = h->source_error_msg;
	if (h->source_error_pending)
		return;
	const char *name = src && src->name ? src->name : "(source)";
	snprintf(source_error_msg, sizeof h->source_error_msg, "%.120s: %.*s", name,
		 VDISK_ERRLEN - 1, msg);
	/* A protocol's message may quote what a server sent: printable only. */
	for (char *p = source_error_msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	h->source_error_pending = true;
}

const char *host_take_source_error(struct vdisk_host *h)
{
	if (!h || !h->source_error_pending)
		return NULL;
	h->source_error_pending = false;
	return h->source_error_msg;
}

/* ---- sources ---------------------------------------------------------------- */

/* backing: name is a backing file's (see open_remote). */
static int open_source(struct vdisk_host *h, const char *name, bool backing, struct source **out,
		       struct vdisk_err *err)
{
	struct source *s = calloc(1, sizeof *s);
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return fail(err, -ENOMEM, "out of memory");
	}
	s->fd = -1;
	s->host = h;
	size_t slen = scheme_len(name);
	int r;
	if (slen == 4 && !strncmp(name, "file", 4))
		r = open_local(s, name + 7, err); /* file:///a/b is /a/b */
	else if (slen)
		r = open_remote(s, slen, backing, err);
	else
		r = open_local(s, name, err);
	if (r < 0) {
		s->src = NULL; /* nothing for source_close to hand back to a protocol */
		source_close(s);
		return r;
	}
	s->next = h->open_sources;
	h->open_sources = s;
	*out = s;
	return 0;
}

int source_open(struct vdisk_host *h, const char *name, struct source **out,
		struct vdisk_err *err)
{
	return open_source(h, name, false, out, err);
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
	for (struct source **p = &s->host->open_sources; *p; p = &(*p)->next)
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

bool source_in_use(struct vdisk_host *h, dev_t dev, ino_t ino)
{
	for (struct source *s = h->open_sources; s; s = s->next)
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
	r = lm_probe(s->host->ctx, VDISK_KIND_FORMAT, &in, res);
	free(buf);
	if (r == LM_E_NOMATCH)
		return fail(err, -ENOENT, "unknown format (no format module recognises it)");
	if (r < 0)
		return fail(err, lm_errno(r), "cannot find its format: %s (%s)", lm_strerror(r),
			    lm_errdetail(s->host->ctx));
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

static int get_format(struct vdisk_host *h, const char *name, const struct vdisk_format **out,
		      struct vdisk_err *err)
{
	const void *obj;
	int r = lm_get(h->ctx, VDISK_KIND_FORMAT, name, &obj);
	if (r == LM_E_NOTFOUND)
		return fail(err, -ENOENT, "unknown format %s (%s)", name, lm_errdetail(h->ctx));
	if (r < 0)
		return fail(err, lm_errno(r), "format %s: %s (%s)", name, lm_strerror(r),
			    lm_errdetail(h->ctx));
	const struct vdisk_format *f = obj;
	if (!f || !f->open || !f->read || !f->status || !f->info ||
	    !f->close)
		return fail(err, -EINVAL, "the module of format %s registers no valid driver",
			    name);
	*out = f;
	return 0;
}

/* label: NULL for the user's image, else the path to name in messages. */
static int open_image(struct vdisk_host *h, const char *name, const char *format, unsigned depth,
		      const char *label, struct vdisk_image **out, struct vdisk_err *err)
{
	struct vdisk_image *img = NULL;
	int r;

	h->labelled = false;
	if (depth >= VDISK_MAX_CHAIN) {
		r = fail(err, -ELOOP, "backing chain longer than %d images", VDISK_MAX_CHAIN);
		goto out;
	}
	img = calloc(1, sizeof *img);
	if (!img) {
		r = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	img->host = h;
	r = open_source(h, name, label != NULL, &img->source, err);
	if (r < 0)
		goto out;
	struct source *s = img->source;
	/* A remote file is known by its URI only: a loop through another
	 * spelling of it still ends at VDISK_MAX_CHAIN. */
	for (struct frame *f = h->opening; f; f = f->up)
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
	memcpy(img->format, format, strlen(format) + 1); /* fits: checked above */
	r = get_format(h, img->format, &img->fmt, err);
	if (r < 0)
		goto out;

	/* The user's image starts a budget; its backing files, opened from
	 * inside its driver's open, draw on the same one. */
	struct meta_budget *b = h->opening ? h->opening->budget : NULL;
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
	struct frame me = {s->local, s->dev, s->ino, s->name, b, h->opening};
	h->opening = &me;
	err->msg[0] = 0;
	r = img->fmt->open(s->src, depth, &img->state, err);
	h->opening = me.up;
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
	if (label && !h->labelled) {
		relabel(err, "backing file ", label);
		h->labelled = true;
	}
	return r < 0 ? r : -EIO;
}

int image_open(struct vdisk_host *h, const char *name, const char *format, unsigned depth,
	       struct vdisk_image **out, struct vdisk_err *err)
{
	return open_image(h, name, format, depth, NULL, out, err);
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
		/* A URI stands alone: whether it may be opened is svc_open_backing's call. */
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

static int svc_codec(struct vdisk_source *src, const char *name, const struct vdisk_codec **codec,
		     struct vdisk_err *err)
{
	const void *obj;
	if (!src || !src->svc || !name || !codec || !err)
		return err ? fail(err, -EINVAL, "codec lookup without a name") : -EINVAL;
	struct vdisk_host *h = host_of(src->svc);
	int r = lm_get(h->ctx, VDISK_KIND_CODEC, name, &obj);
	if (r < 0)
		return fail(err, lm_errno(r), "codec %.64s: %s (%s)", name, lm_strerror(r),
			    lm_errdetail(h->ctx));
	const struct vdisk_codec *c = obj;
	if (!c || !c->decompress)
		return fail(err, -EINVAL, "the module of codec %.64s registers no valid codec",
			    name);
	*codec = c;
	return 0;
}

/*
 * A remote image's backing file must be on the image's own origin: an
 * image from one server could otherwise make vdisk read another server
 * (a request forgery, or plain http under an https image), log in over
 * ssh with the user's keys, or read a local file into the output. -o
 * backing_origin=any lifts this for a user who trusts the image. A local
 * image may name a remote backing file: the user put it on the machine.
 */
static int check_origin(struct vdisk_host *h, const char *base, const char *path, struct vdisk_err *err)
{
	const char *allow = option_value(h, "backing_origin");
	if (!is_remote(base) || same_origin(base, path) || (allow && !strcmp(allow, "any")))
		return 0;
	struct origin b, p;
	origin_of(base, &b);
	origin_of(path, &p);
	return fail(err, -EPERM,
		    "backing file %.100s refused: it is %s%.*s, not on its image's origin %.*s "
		    "(-o backing_origin=any allows it)",
		    path, p.scheme ? "on " : "a local file", p.scheme ? (int)MIN(p.shown, 64) : 0,
		    path, (int)MIN(b.shown, 64), base);
}

static int svc_open_backing(struct vdisk_source *src, const char *backing, const char *format,
			    unsigned depth, struct vdisk_image **image, struct vdisk_err *err)
{
	char path[PATH_MAX];
	if (!err || !image)
		return -EINVAL;
	if (!src || !src->svc || !backing || !*backing)
		return fail(err, -EINVAL, "no backing file name");
	struct vdisk_host *h = host_of(src->svc);
	const char *base = src->name ? src->name : "";
	int r = resolve_backing(base, backing, path, sizeof path);
	if (r < 0)
		return fail(err, -ENAMETOOLONG, "backing file name %.80s...: too long", backing);
	if (!h->follow_backing) {
		struct vdisk_image *img = calloc(1, sizeof *img);
		if (!img || !(img->name = strdup(path))) {
			free(img);
			return fail(err, -ENOMEM, "out of memory");
		}
		*image = img;
		return 0;
	}
	r = check_origin(h, base, path, err);
	if (r < 0)
		return r;
	return open_image(h, path, format, depth, path, image, err);
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
	if (!src || !src->svc)
		return err ? fail(err, -EINVAL, "metadata budget asked for an unknown source")
			   : -EINVAL;
	struct source *s = host_of(src->svc)->open_sources;
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

/*
 * A name an image gives for a file beside it: relative, and no ".."
 * component (symbolic links are checked once the path is known).
 */
static int check_sibling_name(const char *f, struct vdisk_err *err)
{
	if (f[0] == '/')
		return fail(err, -EPERM,
			    "file name \"%.80s\" is absolute: only names relative to the "
			    "image that names them are opened",
			    f);
	for (const char *p = f; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return fail(err, -EPERM,
				    "file name \"%.80s\" leaves the descriptor's directory (\"..\")",
				    f);
		p += n + (p[n] == '/');
	}
	if (!*f)
		return fail(err, -EINVAL, "empty file name");
	return 0;
}

/*
 * Whether path, once every symbolic link is followed, is still inside the
 * directory of base (a local image's path): a link among its components
 * must not take a name the image gives beside itself elsewhere. A path
 * that does not exist passes: opening it fails with its own message.
 */
static int check_inside(const char *base, const char *path, const char *name,
			struct vdisk_err *err)
{
	char dir[PATH_MAX], rdir[PATH_MAX], rpath[PATH_MAX];
	const char *slash = strrchr(base, '/');
	int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - base + 1), base)
		      : snprintf(dir, sizeof dir, ".");
	if (n < 0 || (size_t)n >= sizeof dir)
		return fail(err, -ENAMETOOLONG, "file name %.80s...: too long", name);
	if (!realpath(dir, rdir))
		return fail(err, -errno, "%.160s: %s", dir, strerror(errno));
	if (!realpath(path, rpath))
		return 0;
	size_t len = strlen(rdir);
	if (len == 1) /* "/" */
		len = 0;
	if (strncmp(rpath, rdir, len) || rpath[len] != '/')
		return fail(err, -EPERM,
			    "file name \"%.80s\" leaves the descriptor's directory through a "
			    "symbolic link (it is %.120s)",
			    name, rpath);
	return 0;
}

static int svc_open_file(struct vdisk_source *base, const char *name, struct vdisk_source **out,
			 struct vdisk_err *err)
{
	char path[PATH_MAX];
	struct source *s;
	if (!err || !out)
		return -EINVAL;
	if (!base || !base->svc || !name)
		return fail(err, -EINVAL, "no file name");
	struct vdisk_host *h = host_of(base->svc);
	const char *bname = base->name ? base->name : "";
	if (!*bname || is_remote(bname))
		return fail(err, -ENOTSUP,
			    "file \"%.80s\": files named by an image are only supported for "
			    "local images, not %.80s",
			    name, *bname ? bname : "(unnamed source)");
	int r = check_sibling_name(name, err);
	if (r < 0)
		return r;
	if (resolve_backing(bname, name, path, sizeof path) < 0)
		return fail(err, -ENAMETOOLONG, "file name %.80s...: too long", name);
	const char *local = scheme_len(path) ? path + 7 : path; /* file:///a is /a */
	const char *lbase = scheme_len(bname) ? bname + 7 : bname;
	if ((r = check_inside(lbase, local, name, err)) < 0)
		return r;
	struct vdisk_err why = {""};
	if ((r = source_open(h, path, &s, &why)) < 0)
		return fail(err, r, "%.160s: %s", path, why.msg);
	*out = s->src;
	return 0;
}

static void svc_close_file(struct vdisk_source *src)
{
	if (!src || !src->svc)
		return;
	for (struct source *s = host_of(src->svc)->open_sources; s; s = s->next)
		if (s->src == src) {
			source_close(s);
			return;
		}
}

static const struct vdisk_services services = {
	.major = VDISK_IFACE_MAJOR,
	.minor = VDISK_IFACE_MINOR,
	.codec = svc_codec,
	.open_backing = svc_open_backing,
	.image_read = svc_image_read,
	.image_size = svc_image_size,
	.image_close = image_close,
	.source_error = svc_source_error,
	.open_file = svc_open_file,
	.close_file = svc_close_file,
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
static void load_everything(struct lm_context *ctx)
{
	struct feature_list l = {0};
	/* collect() returns 1 when out of memory: lazymod's errors are negative. */
	int r = lm_list(ctx, NULL, collect, &l);
	if (r)
		fprintf(stderr, "vdisk: warning: cannot list the modules: %s\n",
			r > 0 ? strerror(ENOMEM) : lm_errdetail(ctx));
	for (size_t i = 0; i < l.n; i += 2) {
		const void *obj;
		r = lm_get(ctx, l.v[i], l.v[i + 1], &obj);
		if (r < 0)
			fprintf(stderr, "vdisk: warning: %s %s: %s (%s)\n", l.v[i], l.v[i + 1],
				lm_strerror(r), lm_errdetail(ctx));
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

struct vdisk_host *host_new(void)
{
	struct vdisk_host *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->svc = services;
	h->follow_backing = true;
	return h;
}

void host_set_follow_backing(struct vdisk_host *h, bool on)
{
	h->follow_backing = on;
}

void host_set_force_share(struct vdisk_host *h, bool on)
{
	h->force_share = on;
}

struct lm_context *host_context(struct vdisk_host *h)
{
	return h->ctx;
}

int host_start(struct vdisk_host *h, struct vdisk_err *err)
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
		.host = &h->svc,
		.log = log_warning,
	};
	int r = lm_context_new(&o, &h->ctx);
	if (r < 0)
		return fail(err, lm_errno(r), "cannot set up the modules: %s (%s)", lm_strerror(r),
			    lm_errdetail(NULL));
	if (!strcmp(VDISK_MODE, "eager") || !strcmp(VDISK_MODE, "dlopen-all"))
		load_everything(h->ctx);
	return 0;
}

void host_free(struct vdisk_host *h)
{
	if (!h)
		return;
	lm_context_unref(h->ctx);
	free(h);
}
