/*
 * leadd channel plugin ABI, version 1.
 *
 * This header is the only binary contract between the leadd daemon and a channel plugin.
 * A plugin is a shared library that exports one symbol, `leadd_plugin_entry`, which returns
 * a pointer to a `leadd_plugin` table that stays valid for the life of the process.
 *
 * Rules that keep old plugins working with new hosts and the reverse:
 *  - Every table starts with its size; fields are only ever added at the end. A reader
 *    checks `struct_size` before touching a field added in a later minor version: a field
 *    past the `struct_size` its writer declares is absent (read it as NULL or zero), and a
 *    field the reader does not know is ignored.
 *  - The host accepts a plugin table of any `struct_size` from LEADD_PLUGIN_SIZE_1_0 (the
 *    1.0 fields, which every 1.x table begins with) up, and refuses a smaller one.
 *  - A new major version means an incompatible change; the host refuses other majors.
 *  - Only C types cross the boundary. Strings are NUL-terminated UTF-8.
 *  - Memory passed into a call is valid only for the duration of that call: copy what
 *    you keep. Strings a plugin passes to the host are copied by the host before the call
 *    returns.
 *  - The host never unloads a plugin (no dlclose).
 *
 * See docs/plugin-abi.md for the full description and a minimal plugin in C.
 */
#ifndef LEADD_PLUGIN_H
#define LEADD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEADD_ABI_MAJOR 1
#define LEADD_ABI_MINOR 0

#ifdef __cplusplus
#define LEADD_STATIC_ASSERT(condition, message) static_assert(condition, message)
#else
#define LEADD_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#endif

/* What became of one message. Plugins classify; the host decides what to do next. */
typedef enum leadd_outcome {
    /* The provider accepted the message. `provider_id` should carry its id. */
    LEADD_OUTCOME_DELIVERED = 0,
    /* A transient failure of this message: try again later (after `retry_after_ms` if >= 0). */
    LEADD_OUTCOME_RETRY = 1,
    /* A permanent failure of this message (bad number, rejected content): never retry. */
    LEADD_OUTCOME_FAILED = 2,
    /* The destination itself is sick (auth refused, connection refused, 5xx storm).
       The message is retried and the failure counts against the channel's health. */
    LEADD_OUTCOME_CHANNEL_UNAVAILABLE = 3,
} leadd_outcome;

typedef enum leadd_log_level {
    LEADD_LOG_DEBUG = 0,
    LEADD_LOG_INFO = 1,
    LEADD_LOG_WARNING = 2,
    LEADD_LOG_ERROR = 3,
} leadd_log_level;

/* One message handed to a plugin. */
typedef struct leadd_message {
    uint32_t struct_size;         /* sizeof(leadd_message) as the host knows it */
    uint64_t token;               /* pass back to host->complete, exactly once */
    const char *id;               /* leadd's message id */
    const char *idempotency_key;  /* stable across retries and restarts */
    const char *tenant;           /* tenant id */
    const char *to;               /* recipient address (E.164 phone, e-mail address, ...) */
    const char *content_json;     /* channel content as a JSON object: text, subject, html, template */
    int64_t due_at_ms;            /* when it was due, Unix epoch milliseconds */
    uint32_t attempt;             /* 1 for the first try */
} leadd_message;

/* The result of one message, passed to host->complete. */
typedef struct leadd_result {
    uint32_t struct_size;         /* sizeof(leadd_result) as the plugin knows it */
    int32_t outcome;              /* a leadd_outcome value */
    int64_t retry_after_ms;       /* with RETRY or CHANNEL_UNAVAILABLE: wait at least this long; -1 if unknown */
    const char *provider_id;      /* the provider's message id, or NULL */
    const char *detail;           /* human-readable reason, or NULL; never a secret */
} leadd_result;

/* Services the host offers to a plugin instance. The table and `host_context` stay valid for the
   life of the process, so a plugin thread that outlives its instance may still call them; once
   `destroy` has returned such calls are ignored: `log` drops the line, `complete` drops the result
   and `now_ms` returns 0. */
typedef struct leadd_host {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    void *host_context;           /* pass back as the first argument of every call below */
    void (*log)(void *host_context, int32_t level, const char *message);
    int64_t (*now_ms)(void *host_context);
    /* Report the result of the message with `token`. Callable from any thread, once per token. */
    void (*complete)(void *host_context, uint64_t token, const leadd_result *result);
} leadd_host;

/* The table a plugin exports. The fields up to `destroy` are those of ABI 1.0; later minor
   versions only append. */
typedef struct leadd_plugin {
    uint32_t struct_size;         /* sizeof(leadd_plugin) as the plugin knows it */
    uint32_t abi_major;           /* LEADD_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;           /* LEADD_ABI_MINOR the plugin was built with */
    const char *name;             /* short name, e.g. "twilio-sms" */
    const char *version;          /* the plugin's own version, e.g. "1.2.0" */
    const char *channel_kind;     /* "sms", "whatsapp", "email" or another word */
    void *plugin_context;         /* opaque, passed to create */

    /* Make an instance for one channel from its settings (a JSON object as text).
       Returns 0 and sets *instance_out, or non-zero with a NUL-terminated reason in error. */
    int32_t (*create)(void *plugin_context, const char *settings_json, const leadd_host *host,
                      void **instance_out, char *error, size_t error_capacity);

    /* Start sending `count` messages. Must return promptly; report each message through
       host->complete, from any thread, now or later. */
    void (*send_batch)(void *instance, const leadd_message *const *messages, size_t count);

    /* Write a short health word ("ok", or a reason) into `out`; return 0 when healthy. */
    int32_t (*health)(void *instance, char *out, size_t out_capacity);

    /* Stop the instance. Every message not yet completed must be completed before this returns. */
    void (*destroy)(void *instance);
} leadd_plugin;

/* The size of an ABI 1.0 plugin table, from the 1.0 layout: three uint32_t, then four data
   pointers and four function pointers, each aligned as a pointer (80 bytes on a 64-bit system).
   A plugin built against 1.0 declares exactly this; one built against a later 1.x declares more.
   The host accepts any table at least this large. */
enum {
    LEADD_PLUGIN_SIZE_1_0 = (3 * sizeof(uint32_t) + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *)
                            + 4 * sizeof(void *) + 4 * sizeof(void (*)(void))
};

/* The 1.0 fields keep their places: whatever is appended, `destroy` ends where 1.0 ends. */
LEADD_STATIC_ASSERT(offsetof(leadd_plugin, destroy) + sizeof(((leadd_plugin *)0)->destroy) == LEADD_PLUGIN_SIZE_1_0,
                    "a field was inserted among the ABI 1.0 fields of leadd_plugin: append it after destroy");

/* The one exported symbol. The host passes its own ABI version; a plugin may refuse a host it
   cannot serve by returning NULL. The returned table must live for the rest of the process. */
typedef const leadd_plugin *(*leadd_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);

#define LEADD_PLUGIN_ENTRY_SYMBOL "leadd_plugin_entry"

#ifdef __cplusplus
}
#endif

#endif
