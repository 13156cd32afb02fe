// Typed wrappers around libcurl's variadic setters, which Swift cannot call.
#ifndef OUTRIGGER_CCURL_H
#define OUTRIGGER_CCURL_H

#include <curl/curl.h>
#include <stddef.h>

typedef size_t (*ccurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_easy_setopt_callback(CURL *handle, CURLoption option, ccurl_data_callback value);

CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

/// The `curl_version_info` version string, e.g. "7.88.1".
const char *ccurl_version_string(void);
/// The TLS backend description of the running libcurl, or "" when it has none.
const char *ccurl_ssl_version_string(void);

/// Constants that are macros in curl.h and do not import into Swift.
size_t ccurl_writefunc_pause(void);
size_t ccurl_readfunc_pause(void);
size_t ccurl_readfunc_abort(void);
int ccurl_pause_recv(void);
int ccurl_pause_send(void);
int ccurl_pause_all(void);
int ccurl_pause_cont(void);
long ccurl_global_default(void);

#endif
