#ifndef MODELPLANE_CCURL_SHIM_H
#define MODELPLANE_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot call.
// These typed wrappers are the whole of what the HTTPClient module needs.

static inline CURLcode mp_easy_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode mp_easy_setopt_string(CURL *curl, CURLoption option, const char *value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode mp_easy_setopt_pointer(CURL *curl, CURLoption option, void *value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode mp_easy_setopt_slist(CURL *curl, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(curl, option, value);
}

static inline CURLcode mp_easy_setopt_off_t(CURL *curl, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(curl, option, value);
}

/// In-memory PEM data (CA bundle, client certificate, client key); curl copies it.
static inline CURLcode mp_easy_setopt_blob(CURL *curl, CURLoption option, void *data, size_t length) {
    struct curl_blob blob;
    blob.data = data;
    blob.len = length;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(curl, option, &blob);
}

typedef size_t (*mp_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode mp_easy_setopt_data_callback(CURL *curl, CURLoption option, mp_data_callback callback) {
    return curl_easy_setopt(curl, option, callback);
}

static inline CURLcode mp_easy_getinfo_long(CURL *curl, CURLINFO info, long *value) {
    return curl_easy_getinfo(curl, info, value);
}

static inline CURLcode mp_easy_getinfo_pointer(CURL *curl, CURLINFO info, void **value) {
    return curl_easy_getinfo(curl, info, value);
}

static inline CURLMcode mp_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURL *mp_msg_easy_handle(CURLMsg *msg) { return msg->easy_handle; }
static inline CURLcode mp_msg_result(CURLMsg *msg) { return msg->data.result; }
static inline int mp_msg_is_done(CURLMsg *msg) { return msg->msg == CURLMSG_DONE; }

#endif
