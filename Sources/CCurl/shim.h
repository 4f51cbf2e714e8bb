/*
 * libcurl for Swift. curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic,
 * which Swift cannot call; these typed wrappers are the only way the plugins reach them.
 */
#ifndef LEADD_CURL_SHIM_H
#define LEADD_CURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*leadd_curl_data_fn)(char *buffer, size_t size, size_t count, void *context);

static inline CURLcode leadd_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode leadd_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode leadd_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode leadd_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode leadd_curl_set_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode leadd_curl_set_function(CURL *handle, CURLoption option, leadd_curl_data_fn value) {
    return curl_easy_setopt(handle, option, value);
}

static inline long leadd_curl_response_code(CURL *handle) {
    long code = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static inline void *leadd_curl_private(CURL *handle) {
    char *value = NULL;
    curl_easy_getinfo(handle, CURLINFO_PRIVATE, &value);
    return value;
}

static inline CURLMcode leadd_curl_multi_set_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

/* CURLMsg holds its result in a union; Swift reads it through this. */
static inline CURLcode leadd_curl_message_result(const CURLMsg *message) {
    return message->data.result;
}

#endif
