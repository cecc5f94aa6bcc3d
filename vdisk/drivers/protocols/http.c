/* SPDX-License-Identifier: MIT */
/*
 * http - vdisk's http and https protocols: an image on a web server, read
 * with HTTP range requests through libcurl. This module is the only part of
 * vdisk that links libcurl, so a run that reads no URL never maps it.
 *
 * Each source has one curl easy handle, reused for every request so that
 * the connection (and the TLS session) is kept alive. Reads go through the
 * shared read cache (cache.c): `info` on a large image costs a handful of
 * requests, and convert's sequential reads become ever larger ones.
 *
 * The first request asks for the first RC_BLOCK bytes: its Content-Range
 * gives the size, proves that the server honours ranges, and its bytes are
 * the ones a format probe reads first. Every later answer must give the same
 * size, ETag and Last-Modified as the first: a file that changes under a
 * run would otherwise yield a silently inconsistent image.
 *
 * Everything the server says is untrusted: header values are parsed
 * strictly and bounded, a body is written only into the buffer of the
 * request and only as many bytes as were asked for, and text shown in a
 * message is reduced to printable ASCII.
 *
 * Options (-o KEY=VALUE): sslverify=on|off, cacert=PATH, timeout=S,
 * connect_timeout=S. Every request is bounded in time: a stalled or
 * trickling server is an error, never a hang.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define LM_MODULE_NAME http
#include <lazymod/module.h>

#include "../driver.h"
#include "cache.h"

/* Redirects followed per request; more is an error (a loop, most likely). */
#define MAX_REDIRS 8
#define DEFAULT_CONNECT_TIMEOUT 30L
/*
 * The longest time one request may take without -o timeout: a request
 * reads at most RC_MAX_WINDOW bytes (RC_DIRECT_MAX for reads that large),
 * so this asks for about 35 KiB/s of a 4 MiB window. A server that sends
 * 2 bytes a second would otherwise hold vdisk for days.
 */
#define DEFAULT_TIMEOUT 120L
/* Without -o timeout, a request slower than STALL_RATE bytes a second for
 * STALL_SECONDS fails before DEFAULT_TIMEOUT: a stalled server is
 * reported in seconds, not minutes. */
#define STALL_RATE 1024L
#define STALL_SECONDS 20L
/* Longest URI taken: far beyond any real one, and it bounds every copy. */
#define MAX_URI 8192
/* Longest -o timeout / connect_timeout: a day. */
#define MAX_SECONDS 86400L

static bool initialised; /* curl_global_init done */

/* What the final response to one request said (redirects are skipped). */
struct reply {
	long code;		 /* from the status line */
	char reason[48];	 /* its reason phrase, printable ASCII */
	bool has_range;		 /* a Content-Range was given ... */
	bool range_bad;		 /* ... that did not parse */
	bool total_known;	 /* its total was not "*" */
	uint64_t first, last;	 /* "bytes first-last/total"; both 0 for "*" */
	uint64_t total;
	char etag[128];		 /* "" when absent */
	char modified[64];	 /* Last-Modified, "" when absent */
	bool validator_long;	 /* one of them did not fit: compared as changed */
	bool encoded;		 /* a Content-Encoding other than identity */
	unsigned char *buf;	 /* where the body goes ... */
	size_t want, got;	 /* ... at most want bytes of it */
	bool too_much;		 /* the body was longer than asked */
};

struct http {
	struct vdisk_source src;
	CURL *curl;
	char *name; /* as given, for messages */
	char *url;  /* where requests go: the redirect's target once known */
	bool https;
	struct rcache cache;
	struct reply r;
	/* The first answer's validators: every later one must match. */
	char etag[128];
	char modified[64];
	bool validators_long; /* the first's did not fit: only sizes are compared */
	char errbuf[CURL_ERROR_SIZE];
	/* Options. */
	bool verify;
	char *cacert;
	long timeout, connect_timeout;
	bool timeout_given; /* -o timeout: no stall bound, only timeout */
};

static int http_init(const void *host)
{
	if (vdisk_check_host(host) < 0)
		return -ENOSYS;
	/* Not thread-safe, but lazymod runs a module's init once, before any use. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	initialised = true;
	return 0;
}

/* ---- small helpers -------------------------------------------------------------- */

/* Copies len bytes of untrusted text, keeping printable ASCII only. */
static void clean(char *out, size_t size, const char *in, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len && w + 1 < size; i++)
		out[w++] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[w] = 0;
}

/* A decimal number of at most 19 digits (no sign, no space); advances *p. */
static bool parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 19)
			return false;
		x = x * 10 + (uint64_t)(s[n] - '0');
		n++;
	}
	if (!n)
		return false;
	*p = s + n;
	*v = x;
	return true;
}

/* A Content-Range value ("bytes A-B/T", with "*" for an unknown total or A-B) into r. */
static void parse_content_range(struct reply *r, const char *v)
{
	r->has_range = true;
	r->range_bad = true;
	if (strncasecmp(v, "bytes ", 6))
		return;
	v += 6;
	while (*v == ' ')
		v++;
	if (*v == '*') {
		v++;
		r->first = r->last = 0;
	} else if (!parse_u64(&v, &r->first) || *v++ != '-' || !parse_u64(&v, &r->last) ||
		   r->last < r->first) {
		return;
	}
	if (*v++ != '/')
		return;
	if (*v == '*') {
		v++;
		r->total_known = false;
	} else if (parse_u64(&v, &r->total)) {
		r->total_known = true;
	} else {
		return;
	}
	if (*v)
		return;
	r->range_bad = false;
}

/* A validator header's value into out; too long to keep means "changed". */
static void keep_validator(struct reply *r, char *out, size_t size, const char *v)
{
	size_t len = strlen(v);
	if (len >= size) {
		r->validator_long = true;
		return;
	}
	memcpy(out, v, len + 1);
}

/* ---- libcurl callbacks ---------------------------------------------------------------- */

/*
 * One header line of a response, without a terminating NUL. A status line
 * starts a new response (after a redirect or a 100 Continue): what the
 * previous one said is forgotten.
 */
static size_t on_header(char *line, size_t size, size_t nmemb, void *data)
{
	struct http *h = data;
	struct reply *r = &h->r;
	size_t len = size * nmemb;
	char buf[512];

	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		unsigned char *body = r->buf;
		size_t want = r->want;
		memset(r, 0, sizeof *r);
		r->buf = body;
		r->want = want;
		/* "HTTP/1.1 206 Partial Content": the reason follows the second space. */
		size_t n = len < sizeof buf ? len : sizeof buf - 1;
		memcpy(buf, line, n);
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		char *sp = strchr(buf, ' ');
		char *reason = sp ? strchr(sp + 1, ' ') : NULL;
		if (reason)
			clean(r->reason, sizeof r->reason, reason + 1, strlen(reason + 1));
		return len;
	}
	/* Only short headers matter here; longer ones are skipped, not cut. */
	if (len >= sizeof buf)
		return len;
	memcpy(buf, line, len);
	buf[len] = 0;
	while (len && (buf[len - 1] == '\r' || buf[len - 1] == '\n' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		buf[--len] = 0;
	char *colon = strchr(buf, ':');
	if (!colon)
		return size * nmemb;
	*colon = 0;
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(buf, "Content-Range"))
		parse_content_range(r, v);
	else if (!strcasecmp(buf, "ETag"))
		keep_validator(r, r->etag, sizeof r->etag, v);
	else if (!strcasecmp(buf, "Last-Modified"))
		keep_validator(r, r->modified, sizeof r->modified, v);
	else if (!strcasecmp(buf, "Content-Encoding") && strcasecmp(v, "identity"))
		r->encoded = true;
	return size * nmemb;
}

/* Body bytes: kept only from a 206 answer, and never more than asked for. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http *h = ud;
	struct reply *r = &h->r;
	size_t len = size * nmemb;
	long code = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 && code < 400)
		return len; /* a redirect's page */
	if (code != 206)
		return 0; /* an error page or the whole file: stop the transfer */
	if (len > r->want - r->got) {
		r->too_much = true;
		return 0;
	}
	memcpy(r->buf + r->got, data, len);
	r->got += len;
	return len;
}

/* ---- requests ------------------------------------------------------------------------ */

/* Why curl failed, in words a user can act on. Returns a negative errno value. */
static int transfer_error(struct http *h, CURLcode res, struct vdisk_err *err)
{
	const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(res);
	char detail[CURL_ERROR_SIZE];
	long oserr = 0;
	clean(detail, sizeof detail, why, strlen(why));
	curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &oserr);
	switch (res) {
	case CURLE_COULDNT_CONNECT:
		return vdisk_fail(err, oserr == ECONNREFUSED ? -ECONNREFUSED : -EHOSTUNREACH,
				  "cannot connect: %s (%s)",
				  oserr > 0 ? strerror((int)oserr) : "connection failed", detail);
	case CURLE_COULDNT_RESOLVE_HOST:
		return vdisk_fail(err, -EHOSTUNREACH, "cannot resolve the host name (%s)", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		return vdisk_fail(err, -EACCES,
				  "TLS certificate not trusted (%s); trust its CA with -o "
				  "cacert=PATH, or skip the check with -o sslverify=off",
				  detail);
	case CURLE_SSL_CACERT_BADFILE:
		return vdisk_fail(err, -EINVAL,
				  "cannot use the CA certificates of -o cacert=%.100s (%s)",
				  h->cacert ? h->cacert : "", detail);
	case CURLE_OPERATION_TIMEDOUT:
		/* curl says which bound struck; the message says where to change it. */
		if (!h->timeout_given && strstr(detail, "too slow"))
			return vdisk_fail(err, -ETIMEDOUT,
					  "the server stalled: under %ld bytes/s for %ld s (%s); "
					  "-o timeout=S bounds each request by its whole time instead",
					  STALL_RATE, STALL_SECONDS, detail);
		return vdisk_fail(err, -ETIMEDOUT,
				  "timed out: a request takes at most %ld s (-o timeout=S), "
				  "connecting %ld s (-o connect_timeout=S) (%s)",
				  h->timeout, h->connect_timeout, detail);
	case CURLE_TOO_MANY_REDIRECTS:
		return vdisk_fail(err, -ELOOP, "more than %d redirects", MAX_REDIRS);
	case CURLE_WRITE_ERROR:
		if (h->r.too_much)
			return vdisk_fail(err, -EPROTO,
					  "the server sent more than the %zu bytes asked for",
					  h->r.want);
		return vdisk_fail(err, -EIO, "%s", detail);
	default:
		return vdisk_fail(err, -EIO, "%s", detail);
	}
}

/* The first answer's validators against this one's: the file must not have changed. */
static int check_unchanged(struct http *h, struct reply *r, struct vdisk_err *err)
{
	if (r->total != h->src.size)
		return vdisk_fail(err, -ESTALE,
				  "the file changed on the server during the run: it was %llu "
				  "bytes, it is now %llu",
				  (unsigned long long)h->src.size, (unsigned long long)r->total);
	if (h->validators_long)
		return 0;
	bool etag = h->etag[0] && strcmp(h->etag, r->etag);
	bool modified = h->modified[0] && strcmp(h->modified, r->modified);
	/* A validator too long to keep now, when the first one fitted, changed. */
	if (!etag && !modified && !r->validator_long)
		return 0;
	char was[64], now[64];
	const char *a = etag ? h->etag : h->modified, *b = etag ? r->etag : r->modified;
	clean(was, sizeof was, a, strlen(a));
	clean(now, sizeof now, b, strlen(b));
	return vdisk_fail(err, -ESTALE,
			  "the file changed on the server during the run (%s %s, now %s)",
			  etag ? "ETag" : "Last-Modified", was, now[0] ? now : "none");
}

/*
 * One range request: len bytes at off into buf. `first` is the request of
 * open, which learns the size (*total) and the validators and may get fewer
 * bytes than asked (*got) when the file is shorter. Later requests must get
 * exactly len bytes of a file that has not changed. Returns 0, or a
 * negative errno value with err saying why.
 */
static int request(struct http *h, void *buf, size_t len, uint64_t off, bool first, size_t *got,
		   uint64_t *total, struct vdisk_err *err)
{
	char range[48];
	struct reply *r = &h->r;

	snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	memset(r, 0, sizeof *r);
	r->buf = buf;
	r->want = len;
	h->errbuf[0] = 0;
	curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
	curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
	CURLcode res = curl_easy_perform(h->curl);
	long code = 0;
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &code);

	/* on_body stops any answer but a 206: its status says more than curl's error. */
	bool stopped = res == CURLE_WRITE_ERROR && !r->too_much && code != 206;
	if (res != CURLE_OK && !stopped)
		return transfer_error(h, res, err);
	curl_off_t clen = -1;
	curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	if (first && code == 200 && res == CURLE_OK && clen == 0 && r->got == 0) {
		/* An empty file: some servers (nginx) answer its range with all of it. */
		*total = 0;
		*got = 0;
	} else if (code == 200) {
		return vdisk_fail(err, -EOPNOTSUPP,
				  "the server does not support range requests (it answered a range "
				  "request with the whole file)");
	} else if (first && code == 416 && r->has_range && !r->range_bad && r->total_known &&
		   r->total == 0) {
		*total = 0; /* an empty file: there was no byte to ask for */
		*got = 0;
	} else if (code != 206) {
		const char *o = r->reason[0] ? " (" : "", *c = r->reason[0] ? ")" : "";
		if (code >= 300 && code < 400)
			return vdisk_fail(err, -EIO, "HTTP %ld%s%s%s with no usable Location", code,
					  o, r->reason, c);
		return vdisk_fail(err,
				  code == 404 || code == 410	 ? -ENOENT
				  : code == 401 || code == 403 ? -EACCES
								 : -EIO,
				  "HTTP error %ld%s%s%s", code, o, r->reason, c);
	} else if (r->encoded) {
		return vdisk_fail(err, -EPROTO,
				  "the server sent the range with a Content-Encoding");
	} else if (!r->has_range || r->range_bad) {
		return vdisk_fail(err, -EPROTO, "the server's 206 answer has %s Content-Range",
				  r->has_range ? "a malformed" : "no");
	} else if (!r->total_known) {
		return vdisk_fail(err, -EPROTO, "the server does not say how large the file is");
	} else {
		uint64_t last = off + len - 1;
		if (first && r->total < off + len)
			last = r->total - 1; /* a file shorter than the first request */
		if (!first) {
			int e = check_unchanged(h, r, err);
			if (e < 0)
				return e;
		}
		if (r->total <= off || r->first != off || r->last != last)
			return vdisk_fail(err, -EPROTO,
					  "the server answered bytes %llu-%llu/%llu to a request "
					  "for %llu-%llu",
					  (unsigned long long)r->first, (unsigned long long)r->last,
					  (unsigned long long)r->total, (unsigned long long)off,
					  (unsigned long long)(off + len - 1));
		if (r->got != r->last - r->first + 1)
			return vdisk_fail(err, -EPROTO,
					  "the server sent %zu bytes for a range of %llu", r->got,
					  (unsigned long long)(r->last - r->first + 1));
		*total = r->total;
		*got = r->got;
	}
	if (first) {
		memcpy(h->etag, r->etag, sizeof h->etag);
		memcpy(h->modified, r->modified, sizeof h->modified);
		h->validators_long = r->validator_long;
	}
	return 0;
}

/* The cache's fetch: one request; a failure is explained to the host. */
static int http_fetch(void *opaque, void *buf, size_t len, uint64_t off)
{
	struct http *h = opaque;
	struct vdisk_err err = {""};
	size_t got;
	uint64_t total;
	int r = request(h, buf, len, off, false, &got, &total, &err);
	if (r < 0 && h->src.svc)
		h->src.svc->source_error(&h->src, err.msg);
	return r;
}

static int http_pread(struct vdisk_source *src, void *buf, size_t len, uint64_t off)
{
	struct http *h = (struct http *)((char *)src - offsetof(struct http, src));
	return rc_read(&h->cache, buf, len, off);
}

/* ---- open and close ------------------------------------------------------------------- */

static void http_close(struct vdisk_source *src)
{
	if (!src)
		return;
	struct http *h = (struct http *)((char *)src - offsetof(struct http, src));
	if (h->curl)
		curl_easy_cleanup(h->curl);
	rc_free(&h->cache);
	free(h->name);
	free(h->url);
	free(h->cacert);
	free(h);
}

/* Whole seconds, 1 to MAX_SECONDS. */
static bool parse_seconds(const char *v, long *out)
{
	uint64_t x;
	if (!parse_u64(&v, &x) || *v || x < 1 || x > MAX_SECONDS)
		return false;
	*out = (long)x;
	return true;
}

static int parse_options(struct http *h, const char *const *options, struct vdisk_err *err)
{
	for (const char *const *o = options; o && *o; o++) {
		const char *eq = strchr(*o, '=');
		size_t klen = eq ? (size_t)(eq - *o) : strlen(*o);
		const char *v = eq ? eq + 1 : "";
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(*o, k, klen))
		if (KEY("sslverify") && (!strcmp(v, "on") || !strcmp(v, "off"))) {
			h->verify = !strcmp(v, "on");
		} else if (KEY("cacert") && *v) {
			free(h->cacert);
			if (!(h->cacert = strdup(v)))
				return vdisk_fail(err, -ENOMEM, "out of memory");
		} else if (KEY("timeout") && parse_seconds(v, &h->timeout)) {
			h->timeout_given = true;
		} else if (KEY("connect_timeout") && parse_seconds(v, &h->connect_timeout)) {
		} else {
			return vdisk_fail(err, -EINVAL, "option %.*s is not one of http's", 80, *o);
		}
#undef KEY
	}
	return 0;
}

static int setup(struct http *h, struct vdisk_err *err)
{
	CURL *c = h->curl;
	CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (e == CURLE_OK)                                                                 \
			e = curl_easy_setopt(c, opt, val);                                         \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, h->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L); /* a library in someone else's process */
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	/* An https image is never read over plain http, whatever a redirect says. */
	SET(CURLOPT_REDIR_PROTOCOLS_STR, h->https ? "https" : "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_REDIR_PROTOCOLS, h->https ? (long)CURLPROTO_HTTPS
					      : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_USERAGENT, "vdisk/1.0");
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, h);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, h);
	SET(CURLOPT_BUFFERSIZE, 256L << 10);
	SET(CURLOPT_SSL_VERIFYPEER, h->verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, h->verify ? 2L : 0L);
	if (h->cacert)
		SET(CURLOPT_CAINFO, h->cacert);
	SET(CURLOPT_CONNECTTIMEOUT, h->connect_timeout);
	SET(CURLOPT_TIMEOUT, h->timeout);
	if (!h->timeout_given) {
		SET(CURLOPT_LOW_SPEED_LIMIT, STALL_RATE);
		SET(CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
	}
#undef SET
	if (e != CURLE_OK)
		return vdisk_fail(err, -EINVAL, "libcurl refused a setting: %s",
				  curl_easy_strerror(e));
	return 0;
}

static int http_open(const char *uri, const char *const *options, struct vdisk_source **out,
		     struct vdisk_err *err)
{
	if (!initialised)
		return vdisk_fail(err, -EINVAL, "the http module was not initialised");
	size_t ulen = strnlen(uri, MAX_URI + 1);
	if (ulen > MAX_URI)
		return vdisk_fail(err, -ENAMETOOLONG, "URI longer than %d bytes", MAX_URI);
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)uri[i] <= 0x20 || uri[i] == 0x7f)
			return vdisk_fail(err, -EINVAL,
					  "the URI has a space or a control character (encode it "
					  "as %%XX)");
	struct http *h = calloc(1, sizeof *h);
	if (!h)
		return vdisk_fail(err, -ENOMEM, "out of memory");
	h->verify = true;
	h->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	h->timeout = DEFAULT_TIMEOUT;
	h->https = !strncasecmp(uri, "https:", 6);
	int r = -ENOMEM;
	unsigned char *first = NULL;
	if (!(h->name = strdup(uri)) || !(h->url = strdup(uri))) {
		vdisk_fail(err, r, "out of memory");
		goto fail;
	}
	h->src.name = h->name;
	h->src.pread = http_pread;
	if ((r = parse_options(h, options, err)) < 0)
		goto fail;
	if (!(h->curl = curl_easy_init())) {
		r = vdisk_fail(err, -ENOMEM, "cannot create a libcurl handle");
		goto fail;
	}
	if ((r = setup(h, err)) < 0)
		goto fail;

	first = malloc(RC_BLOCK);
	if (!first) {
		r = vdisk_fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	size_t got = 0;
	uint64_t total = 0;
	r = request(h, first, RC_BLOCK, 0, true, &got, &total, err);
	if (r < 0)
		goto fail;
	/* Later requests go where the redirects led, instead of following them again. */
	char *eff = NULL;
	if (curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff &&
	    strcmp(eff, h->url) && strlen(eff) <= MAX_URI) {
		char *u = strdup(eff);
		if (u) {
			free(h->url);
			h->url = u;
		}
	}
	h->src.size = total;
	rc_init(&h->cache, http_fetch, h, total);
	rc_seed(&h->cache, first, got, 0);
	free(first);
	*out = &h->src;
	return 0;
fail:
	free(first);
	http_close(&h->src);
	return r;
}

static const struct vdisk_protocol http_protocol = {
	.name = "http",
	.open = http_open,
	.close = http_close,
};

static const struct vdisk_protocol https_protocol = {
	.name = "https",
	.open = http_open,
	.close = http_close,
};

LM_MODULE("1.0", "images on web servers, read with HTTP range requests (libcurl)", http_init);
LM_INTERFACE(VDISK_IFACE_MAJOR, VDISK_IFACE_MINOR);
LM_FEATURE(VDISK_KIND_PROTOCOL, "http", &http_protocol);
LM_FEATURE(VDISK_KIND_PROTOCOL, "https", &https_protocol);
LM_PROBE_SCHEME(VDISK_KIND_PROTOCOL, "http", "http", 100);
LM_PROBE_SCHEME(VDISK_KIND_PROTOCOL, "https", "https", 100);
