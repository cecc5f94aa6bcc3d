/* SPDX-License-Identifier: MIT */
/*
 * sftp - vdisk's sftp protocol (also spelt ssh://, as QEMU accepts): an
 * image on an SSH server, read over SFTP through libssh. This module is the
 * only part of vdisk that links libssh.
 *
 *   sftp://[USER@]HOST[:PORT]/PATH    (PATH percent-decoded, from the root)
 *
 * The server's host key is checked against the known hosts files (the
 * user's, or -o known_hosts=PATH, and the system's) unless
 * -o host_key_check=no: an unknown or changed key is an error that shows the
 * key's fingerprint and says how to accept it. Authentication is by a key:
 * the one of -o identity=PATH alone when given, else the agent and the
 * default keys, as ssh does. ~/.ssh/config is read, as ssh does, but what
 * the URI and the options say wins.
 *
 * Reads go through the shared read cache (cache.c), which turns a format's
 * small reads into few large ones; each is read from an offset set with
 * sftp_seek64, with several read requests in flight. Every answer is
 * bounded by what was asked, and a file that ends early is an error, not
 * zeros.
 *
 * Options (-o KEY=VALUE): identity=PATH, known_hosts=PATH,
 * host_key_check=yes|no, timeout=S, connect_timeout=S.
 *
 * Time is bounded: connecting by connect_timeout, and logging in, opening
 * the file and each read by timeout. libssh's own timeout cannot do the
 * latter: its SFTP layer waits again after each timed-out wait for a
 * packet, so a server that stops answering mid-packet would hold vdisk for
 * ever. A watchdog thread per source therefore shuts the connection's
 * socket down when a deadline passes, which makes the waiting call fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#define LM_MODULE_NAME sftp
#include <lazymod/module.h>

#include "../driver.h"
#include "cache.h"

#define DEFAULT_CONNECT_TIMEOUT 30L
/* Without -o timeout, the longest a read (at most 16 MiB: the read cache's
 * largest) or the login and open may take. */
#define DEFAULT_TIMEOUT 120L
#define MAX_SECONDS 86400L
#define MAX_URI 8192
/* Bytes asked per read request: what servers commonly answer in full (OpenSSH's
 * answers up to about 256 KiB, others 32 or 64 KiB). */
#define READ_CHUNK (64u << 10)
/* A server answering less than asked makes later requests smaller, down to this. */
#define MIN_CHUNK (4u << 10)
/* Read requests kept in flight: READ_DEPTH * READ_CHUNK bytes under way. */
#define READ_DEPTH 16

static bool initialised; /* ssh_init done */

/*
 * A deadline on the calls into libssh: while armed, the thread shuts the
 * socket down once the deadline passes. fired stays set: the session is
 * unusable from then on.
 */
struct watchdog {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running; /* thread, lock and cond exist */
	bool quit, armed, fired;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	int fd;
};

struct sftp_src {
	struct vdisk_source src;
	char *name; /* the URI as given */
	ssh_session ssh;
	sftp_session sftp;
	sftp_file file;
	struct rcache cache;
	uint32_t chunk; /* bytes asked per read request */
	/* From the URI. */
	char *user; /* NULL: ssh's default (the config's, or the local user) */
	char *host;
	unsigned port; /* 0: the default (the config's, or 22) */
	char *path;
	/* Options. */
	char *identity;
	char *known_hosts;
	bool check_host_key;
	long timeout, connect_timeout;
	struct watchdog dog;
};

static int sftp_mod_init(const void *host)
{
	if (vdisk_check_host(host) < 0)
		return -ENOSYS;
	if (ssh_init() < 0)
		return -EIO;
	initialised = true;
	return 0;
}

/* ---- the URI and the options ------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A percent-decoded copy of s[0..len), or NULL (bad escape, NUL byte, no memory). */
static char *decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *w = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*w++ = s[i];
			continue;
		}
		int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*w++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*w = 0;
	return out;
}

static int parse_uri(struct sftp_src *s, const char *uri, struct vdisk_err *err)
{
	size_t ulen = strnlen(uri, MAX_URI + 1);
	if (ulen > MAX_URI)
		return vdisk_fail(err, -ENAMETOOLONG, "URI longer than %d bytes", MAX_URI);
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)uri[i] <= 0x20 || uri[i] == 0x7f)
			return vdisk_fail(err, -EINVAL,
					  "the URI has a space or a control character (encode it "
					  "as %%XX)");
	const char *p = strstr(uri, "://");
	if (!p)
		return vdisk_fail(err, -EINVAL, "not an sftp:// URI");
	p += 3;
	if (strpbrk(p, "?#"))
		return vdisk_fail(err, -EINVAL,
				  "the URI has a query or a fragment; give options with -o "
				  "KEY=VALUE");
	const char *slash = strchr(p, '/');
	if (!slash || !slash[1])
		return vdisk_fail(err, -EINVAL,
				  "the URI names no file (sftp://[USER@]HOST[:PORT]/PATH)");
	const char *auth = p, *auth_end = slash;
	const char *at = NULL;
	for (const char *q = auth; q < auth_end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		if (memchr(auth, ':', (size_t)(at - auth)))
			return vdisk_fail(err, -EINVAL,
					  "passwords in URIs are not supported: use a key "
					  "(-o identity=PATH) or an agent");
		if (at == auth || !(s->user = decode(auth, (size_t)(at - auth))) || !*s->user)
			return vdisk_fail(err, -EINVAL, "bad user name in the URI");
		auth = at + 1;
	}
	const char *host_end = auth_end, *port = NULL;
	if (*auth == '[') { /* [v6 address] */
		const char *close = memchr(auth, ']', (size_t)(auth_end - auth));
		if (!close)
			return vdisk_fail(err, -EINVAL, "bad host in the URI");
		host_end = close;
		auth++;
		if (close + 1 < auth_end) {
			if (close[1] != ':')
				return vdisk_fail(err, -EINVAL, "bad host in the URI");
			port = close + 2;
		}
	} else {
		const char *colon = memchr(auth, ':', (size_t)(auth_end - auth));
		if (colon) {
			host_end = colon;
			port = colon + 1;
		}
	}
	if (host_end == auth || !(s->host = decode(auth, (size_t)(host_end - auth))) || !*s->host)
		return vdisk_fail(err, -EINVAL, "the URI names no host");
	if (port) {
		unsigned v = 0;
		if (port == auth_end)
			return vdisk_fail(err, -EINVAL, "bad port in the URI");
		for (const char *q = port; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || (v = v * 10 + (unsigned)(*q - '0')) > 65535)
				return vdisk_fail(err, -EINVAL, "bad port in the URI");
		}
		if (!v)
			return vdisk_fail(err, -EINVAL, "bad port in the URI");
		s->port = v;
	}
	if (!(s->path = decode(slash, strlen(slash))))
		return vdisk_fail(err, -EINVAL, "bad %%-escape in the URI's path");
	return 0;
}

static bool parse_seconds(const char *v, long *out)
{
	long x = 0;
	if (!*v)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || (x = x * 10 + (*v - '0')) > MAX_SECONDS)
			return false;
	}
	if (x < 1)
		return false;
	*out = x;
	return true;
}

static int parse_options(struct sftp_src *s, const char *const *options, struct vdisk_err *err)
{
	for (const char *const *o = options; o && *o; o++) {
		const char *eq = strchr(*o, '=');
		size_t klen = eq ? (size_t)(eq - *o) : strlen(*o);
		const char *v = eq ? eq + 1 : "";
		char **path = NULL;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(*o, k, klen))
		if (KEY("identity") && *v) {
			path = &s->identity;
		} else if (KEY("known_hosts") && *v) {
			path = &s->known_hosts;
		} else if (KEY("host_key_check") && (!strcmp(v, "yes") || !strcmp(v, "no"))) {
			s->check_host_key = !strcmp(v, "yes");
		} else if (KEY("timeout") && parse_seconds(v, &s->timeout)) {
		} else if (KEY("connect_timeout") && parse_seconds(v, &s->connect_timeout)) {
		} else {
			return vdisk_fail(err, -EINVAL, "option %.80s is not one of sftp's", *o);
		}
#undef KEY
		if (path) {
			free(*path);
			if (!(*path = strdup(v)))
				return vdisk_fail(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* ---- the watchdog ------------------------------------------------------------------------ */

static void *watch(void *arg)
{
	struct watchdog *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!w->quit) {
		if (!w->armed) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > w->deadline.tv_sec ||
		    (now.tv_sec == w->deadline.tv_sec && now.tv_nsec >= w->deadline.tv_nsec)) {
			/* Any read or poll on the socket now returns at once. */
			shutdown(w->fd, SHUT_RDWR);
			w->fired = true;
			w->armed = false;
			continue;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &w->deadline);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Starts the thread; 0 or a negative errno value. */
static int watchdog_start(struct watchdog *w, struct vdisk_err *err)
{
	pthread_condattr_t attr;
	int r = pthread_condattr_init(&attr);
	if (!r) {
		r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!r)
			r = pthread_cond_init(&w->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (r)
		return vdisk_fail(err, -r, "cannot start a watchdog: %s", strerror(r));
	if ((r = pthread_mutex_init(&w->lock, NULL))) {
		pthread_cond_destroy(&w->cond);
		return vdisk_fail(err, -r, "cannot start a watchdog: %s", strerror(r));
	}
	if ((r = pthread_create(&w->thread, NULL, watch, w))) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		return vdisk_fail(err, -r, "cannot start a watchdog thread: %s", strerror(r));
	}
	w->running = true;
	return 0;
}

static void watchdog_stop(struct watchdog *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	w->running = false;
}

/* From now on, the socket fd is shut down unless disarmed within `seconds`. */
static void watchdog_arm(struct watchdog *w, int fd, long seconds)
{
	pthread_mutex_lock(&w->lock);
	clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	w->deadline.tv_sec += seconds;
	w->fd = fd;
	w->armed = !w->fired;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Whether the deadline struck (now or before): then what libssh says is its consequence. */
static bool watchdog_disarm(struct watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->armed = false;
	bool fired = w->fired;
	pthread_mutex_unlock(&w->lock);
	return fired;
}

/* ---- connecting ------------------------------------------------------------------------- */

/* "HOST port N" for messages. */
static void where(const struct sftp_src *s, char *buf, size_t len)
{
	unsigned port = 0;
	ssh_options_get_port(s->ssh, &port);
	snprintf(buf, len, "%.100s port %u", s->host, port ? port : 22);
}

/* libssh's last error, as printable text. */
static const char *ssh_why(struct sftp_src *s, char *buf, size_t len)
{
	const char *e = ssh_get_error(s->ssh);
	size_t w = 0;
	for (; e && *e && w + 1 < len; e++)
		buf[w++] = *e >= 0x20 && *e < 0x7f ? *e : '?';
	buf[w] = 0;
	return w ? buf : "unknown error";
}

static int check_host_key(struct sftp_src *s, struct vdisk_err *err)
{
	enum ssh_known_hosts_e state = ssh_session_is_known_server(s->ssh);
	if (state == SSH_KNOWN_HOSTS_OK)
		return 0;
	char at[128], why[128], fp[128] = "unknown fingerprint";
	const char *type = "?";
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	where(s, at, sizeof at);
	if (ssh_get_server_publickey(s->ssh, &key) == SSH_OK) {
		type = ssh_key_type_to_char(ssh_key_type(key));
		if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
			char *f = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
			if (f)
				snprintf(fp, sizeof fp, "%s", f);
			ssh_string_free_char(f);
			ssh_clean_pubkey_hash(&hash);
		}
		ssh_key_free(key);
	}
	if (!type)
		type = "?";
	switch (state) {
	case SSH_KNOWN_HOSTS_CHANGED:
		return vdisk_fail(err, -EACCES,
				  "the host key of %s CHANGED (now %s %s): if that is expected, "
				  "update -o known_hosts=PATH, or skip with -o host_key_check=no",
				  at, type, fp);
	case SSH_KNOWN_HOSTS_OTHER:
		return vdisk_fail(err, -EACCES,
				  "%s offers a %s key (%s) but the known hosts have another type "
				  "for it; fix -o known_hosts=PATH, or -o host_key_check=no",
				  at, type, fp);
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		return vdisk_fail(err, -EACCES,
				  "unknown host key of %s (%s %s): add it to a known hosts file "
				  "given with -o known_hosts=PATH, or skip with -o "
				  "host_key_check=no",
				  at, type, fp);
	default:
		return vdisk_fail(err, -EIO, "cannot check the host key of %s: %s", at,
				  ssh_why(s, why, sizeof why));
	}
}

static int authenticate(struct sftp_src *s, struct vdisk_err *err)
{
	char why[128], *user = NULL;
	int rc = ssh_userauth_none(s->ssh, NULL);
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		return vdisk_fail(err, -EIO, "authentication: %s", ssh_why(s, why, sizeof why));
	if (s->identity) {
		ssh_key key = NULL;
		if (ssh_pki_import_privkey_file(s->identity, NULL, NULL, NULL, &key) != SSH_OK)
			return vdisk_fail(err, -EINVAL,
					  "cannot load the key of -o identity=%.100s (missing, "
					  "not a private key, or protected by a passphrase: use "
					  "an agent)",
					  s->identity);
		rc = ssh_userauth_publickey(s->ssh, NULL, key);
		ssh_key_free(key);
	} else {
		/* The agent, then the default keys (and the config's IdentityFile). */
		rc = ssh_userauth_publickey_auto(s->ssh, NULL, NULL);
	}
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR)
		return vdisk_fail(err, -EIO, "authentication: %s", ssh_why(s, why, sizeof why));
	ssh_options_get(s->ssh, SSH_OPTIONS_USER, &user);
	char at[128];
	where(s, at, sizeof at);
	vdisk_fail(err, -EACCES, "authentication failed for user %.64s at %s with %s%.100s",
		   user ? user : "?", at, s->identity ? "the key " : "the agent and default keys",
		   s->identity ? s->identity : "");
	ssh_string_free_char(user);
	return -EACCES;
}

static int connect_session(struct sftp_src *s, struct vdisk_err *err)
{
	char why[128], at[128];
	int verbosity = SSH_LOG_NOLOG;
	if (!(s->ssh = ssh_new()))
		return vdisk_fail(err, -ENOMEM, "cannot create an SSH session");
	if (ssh_options_set(s->ssh, SSH_OPTIONS_HOST, s->host) < 0)
		return vdisk_fail(err, -EINVAL, "bad host %.100s", s->host);
	ssh_options_set(s->ssh, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	/* The user's ssh configuration first, so that the URI and -o override it. */
	ssh_options_parse_config(s->ssh, NULL);
	if (s->user && ssh_options_set(s->ssh, SSH_OPTIONS_USER, s->user) < 0)
		return vdisk_fail(err, -EINVAL, "bad user %.64s", s->user);
	if (s->port && ssh_options_set(s->ssh, SSH_OPTIONS_PORT, &s->port) < 0)
		return vdisk_fail(err, -EINVAL, "bad port %u", s->port);
	if (s->known_hosts && ssh_options_set(s->ssh, SSH_OPTIONS_KNOWNHOSTS, s->known_hosts) < 0)
		return vdisk_fail(err, -EINVAL, "bad -o known_hosts=%.100s", s->known_hosts);
	ssh_options_set(s->ssh, SSH_OPTIONS_TIMEOUT, &s->connect_timeout);
	where(s, at, sizeof at);
	if (ssh_connect(s->ssh) != SSH_OK)
		return vdisk_fail(err, -ECONNREFUSED, "cannot connect to %s: %s", at,
				  ssh_why(s, why, sizeof why));
	/* Logging in and opening the file: disarmed by sftp_src_open. */
	int r = watchdog_start(&s->dog, err);
	if (r < 0)
		return r;
	watchdog_arm(&s->dog, ssh_get_fd(s->ssh), s->timeout);
	r = s->check_host_key ? check_host_key(s, err) : 0;
	if (r < 0)
		return r;
	if ((r = authenticate(s, err)) < 0)
		return r;
	/* From now on, the longest wait for an answer. */
	ssh_options_set(s->ssh, SSH_OPTIONS_TIMEOUT, &s->timeout);

	if (!(s->sftp = sftp_new(s->ssh)) || sftp_init(s->sftp) < 0)
		return vdisk_fail(err, -EIO, "cannot start SFTP on %s: %s", at,
				  ssh_why(s, why, sizeof why));
	return 0;
}

static int open_file(struct sftp_src *s, struct vdisk_err *err)
{
	char why[128];
	s->file = sftp_open(s->sftp, s->path, O_RDONLY, 0);
	if (!s->file) {
		switch (sftp_get_error(s->sftp)) {
		case SSH_FX_NO_SUCH_FILE:
			return vdisk_fail(err, -ENOENT, "no such file on the server");
		case SSH_FX_PERMISSION_DENIED:
			return vdisk_fail(err, -EACCES, "permission denied by the server");
		default:
			return vdisk_fail(err, -EIO, "cannot open it: %s",
					  ssh_why(s, why, sizeof why));
		}
	}
	sftp_attributes a = sftp_fstat(s->file);
	if (!a)
		return vdisk_fail(err, -EIO, "cannot stat it: %s", ssh_why(s, why, sizeof why));
	int r = 0;
	if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) && S_ISDIR(a->permissions))
		r = vdisk_fail(err, -EISDIR, "%s", strerror(EISDIR));
	else if ((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a->permissions))
		r = vdisk_fail(err, -EINVAL, "not a regular file");
	else if (!(a->flags & SSH_FILEXFER_ATTR_SIZE))
		r = vdisk_fail(err, -EIO, "the server does not say how large it is");
	else
		s->src.size = a->size;
	sftp_attributes_free(a);
	return r;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Whether the watchdog shut the connection down. */
static bool timed_out(struct sftp_src *s)
{
	if (!s->dog.running)
		return false;
	pthread_mutex_lock(&s->dog.lock);
	bool fired = s->dog.fired;
	pthread_mutex_unlock(&s->dog.lock);
	return fired;
}

/*
 * Tells the host why a read fails: "WHAT: DETAIL" (detail may be NULL).
 * After a timeout, libssh's error is its consequence: the timeout is said.
 */
static void report(struct sftp_src *s, const char *what, const char *detail)
{
	char msg[VDISK_ERRLEN];
	if (timed_out(s))
		snprintf(msg, sizeof msg,
			 "timed out: no complete answer to a read within %ld s (-o timeout=S)",
			 s->timeout);
	else
		snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "",
			 detail ? detail : "");
	if (s->src.svc)
		s->src.svc->source_error(&s->src, msg);
}

/* len bytes at off, one sftp_read after another: the slow way, for what a short answer left. */
static int read_sync(struct sftp_src *s, unsigned char *p, size_t len, uint64_t off)
{
	char why[128];
	if (sftp_seek64(s->file, off) < 0) {
		report(s, "SFTP seek failed", ssh_why(s, why, sizeof why));
		return -EIO;
	}
	/* Each round moves at least one byte forward, or ends the loop. */
	while (len) {
		size_t want = len < READ_CHUNK ? len : READ_CHUNK;
		ssize_t n = sftp_read(s->file, p, want);
		if (n < 0) {
			report(s, "SFTP read failed", ssh_why(s, why, sizeof why));
			return -EIO;
		}
		if (n == 0) {
			report(s, "the file shrank on the server during the run", NULL);
			return -ESTALE;
		}
		if ((size_t)n > want) { /* libssh checks it too: never trust one layer */
			report(s, "the server sent more than asked", NULL);
			return -EPROTO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * libssh 0.11 deprecates sftp_async_read_begin and sftp_async_read in favour
 * of its sftp_aio functions, which 0.10 lacks; both have these.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/*
 * The cache's fetch: len bytes at off. A round trip per sftp_read would
 * bound a stream to a chunk per round trip, so up to READ_DEPTH requests
 * are kept in flight, each for its own range of buf. A server may answer
 * a request with fewer bytes than asked; the rest of that range is then
 * read synchronously, and later requests are made that small.
 */
static int fetch(struct sftp_src *s, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	struct {
		uint32_t id;
		uint32_t len;
		size_t pos; /* in buf */
	} q[READ_DEPTH] = {{0}};
	unsigned head = 0, inflight = 0;
	size_t sent = 0, done = 0;
	char why[128];

	if (sftp_seek64(s->file, off) < 0) {
		report(s, "SFTP seek failed", ssh_why(s, why, sizeof why));
		return -EIO;
	}
	/* Each round receives one answer: at most len / 1 + READ_DEPTH rounds. */
	while (done < len) {
		while (inflight < READ_DEPTH && sent < len) {
			uint32_t n = len - sent < s->chunk ? (uint32_t)(len - sent) : s->chunk;
			int id = sftp_async_read_begin(s->file, n);
			if (id < 0) {
				report(s, "SFTP read request failed", ssh_why(s, why, sizeof why));
				return -EIO;
			}
			unsigned slot = (head + inflight) % READ_DEPTH;
			q[slot].id = (uint32_t)id;
			q[slot].len = n;
			q[slot].pos = sent;
			inflight++;
			sent += n;
		}
		unsigned slot = head;
		head = (head + 1) % READ_DEPTH;
		inflight--;
		int n = sftp_async_read(s->file, p + q[slot].pos, q[slot].len, q[slot].id);
		if (n < 0) {
			report(s, "SFTP read failed", ssh_why(s, why, sizeof why));
			return -EIO;
		}
		if (n == 0) {
			report(s, "the file shrank on the server during the run", NULL);
			return -ESTALE;
		}
		if ((uint32_t)n > q[slot].len) {
			report(s, "the server sent more than asked", NULL);
			return -EPROTO;
		}
		if ((uint32_t)n < q[slot].len) {
			size_t gap = q[slot].pos + (size_t)n;
			int r = read_sync(s, p + gap, q[slot].len - (uint32_t)n, off + gap);
			if (r < 0)
				return r;
			/* Back to where the requests in flight leave off. */
			if (sftp_seek64(s->file, off + sent) < 0) {
				report(s, "SFTP seek failed", ssh_why(s, why, sizeof why));
				return -EIO;
			}
			if ((uint32_t)n >= MIN_CHUNK)
				s->chunk = (uint32_t)n;
		}
		done += q[slot].len;
	}
	return 0;
}

#pragma GCC diagnostic pop

/* The cache's fetch: fetch(), within the bound of -o timeout. */
static int sftp_fetch(void *opaque, void *buf, size_t len, uint64_t off)
{
	struct sftp_src *s = opaque;
	watchdog_arm(&s->dog, ssh_get_fd(s->ssh), s->timeout);
	int r = fetch(s, buf, len, off);
	if (watchdog_disarm(&s->dog)) {
		report(s, "timed out", NULL);
		return -ETIMEDOUT;
	}
	return r;
}

static int sftp_src_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct sftp_src *s = (struct sftp_src *)((char *)src - offsetof(struct sftp_src, src));
	return rc_read(&s->cache, buf, len, off);
}

/* ---- open and close ------------------------------------------------------------------------ */

static void sftp_src_close(struct vdisk_source *src)
{
	if (!src)
		return;
	struct sftp_src *s = (struct sftp_src *)((char *)src - offsetof(struct sftp_src, src));
	watchdog_stop(&s->dog);
	if (s->file)
		sftp_close(s->file);
	if (s->sftp)
		sftp_free(s->sftp);
	if (s->ssh) {
		if (ssh_is_connected(s->ssh))
			ssh_disconnect(s->ssh);
		ssh_free(s->ssh);
	}
	rc_free(&s->cache);
	free(s->name);
	free(s->user);
	free(s->host);
	free(s->path);
	free(s->identity);
	free(s->known_hosts);
	free(s);
}

static int sftp_src_open(const char *uri, const char *const *options, struct vdisk_source **out,
			 struct vdisk_err *err)
{
	if (!initialised)
		return vdisk_fail(err, -EINVAL, "the sftp module was not initialised");
	struct sftp_src *s = calloc(1, sizeof *s);
	if (!s)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	s->check_host_key = true;
	s->chunk = READ_CHUNK;
	s->timeout = DEFAULT_TIMEOUT;
	s->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	s->src.pread = sftp_src_pread;
	int r;
	if (!(s->name = strdup(uri))) {
		r = vdisk_fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	s->src.name = s->name;
	if ((r = parse_uri(s, uri, err)) == 0 && (r = parse_options(s, options, err)) == 0 &&
	    (r = connect_session(s, err)) == 0)
		r = open_file(s, err);
	if (s->dog.running && watchdog_disarm(&s->dog))
		r = vdisk_fail(err, -ETIMEDOUT,
			       "timed out: logging in and opening the file took over %ld s (-o "
			       "timeout=S)",
			       s->timeout);
	if (r < 0)
		goto fail;
	rc_init(&s->cache, sftp_fetch, s, s->src.size);
	*out = &s->src;
	return 0;
fail:
	sftp_src_close(&s->src);
	return r;
}

static const struct vdisk_protocol sftp_protocol = {
	.name = "sftp",
	.open = sftp_src_open,
	.close = sftp_src_close,
};

static const struct vdisk_protocol ssh_protocol = {
	.name = "ssh",
	.open = sftp_src_open,
	.close = sftp_src_close,
};

LM_MODULE("1.0", "images on SSH servers, read over SFTP (libssh)", sftp_mod_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_PROTOCOL, "sftp", &sftp_protocol);
LM_FEATURE(VDISK_KIND_PROTOCOL, "ssh", &ssh_protocol);
LM_PROBE_SCHEME(VDISK_KIND_PROTOCOL, "sftp", "sftp", 100);
LM_PROBE_SCHEME(VDISK_KIND_PROTOCOL, "ssh", "ssh", 100);
