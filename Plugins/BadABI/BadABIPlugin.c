/*
 * A plugin written in C that misreports its ABI, for the loader's refusal tests.
 * LEADD_TEST_BAD_ABI picks the fault: "major" (ABI 2.0), "small" (a table cut short),
 * "null" (refuses the host), anything else: a valid, working 1.0 table whose sends all
 * fail permanently (shows that a plugin in plain C works).
 *
 * Test hooks, found by the tests with dlsym (see bad_abi.h): entries that return the same
 * table under other declared sizes, and a plugin thread that calls the host late.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "leadd_plugin.h"
#include "bad_abi.h"

static const leadd_host *saved_host;

static int32_t create(void *ctx, const char *settings, const leadd_host *host, void **out, char *err, size_t cap) {
    (void)ctx; (void)settings; (void)err; (void)cap;
    saved_host = host;
    *out = (void *)1;
    return 0;
}

static void send_batch(void *instance, const leadd_message *const *messages, size_t count) {
    (void)instance;
    for (size_t i = 0; i < count; i++) {
        leadd_result r = { sizeof(leadd_result), LEADD_OUTCOME_FAILED, -1, NULL, "the C test plugin fails every message" };
        saved_host->complete(saved_host->host_context, messages[i]->token, &r);
    }
}

static int32_t health(void *instance, char *out, size_t cap) {
    (void)instance;
    if (cap > 2) { strcpy(out, "ok"); }
    return 0;
}

static void destroy(void *instance) { (void)instance; }

static leadd_plugin table = {
    sizeof(leadd_plugin), LEADD_ABI_MAJOR, LEADD_ABI_MINOR, "c-test", "0.1.0", "test", NULL,
    create, send_batch, health, destroy,
};

const leadd_plugin *leadd_plugin_entry(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
    /* The table is static: undo what an earlier call with another fault changed. */
    table.struct_size = sizeof(leadd_plugin);
    table.abi_major = LEADD_ABI_MAJOR;
    table.abi_minor = LEADD_ABI_MINOR;
    const char *fault = getenv("LEADD_TEST_BAD_ABI");
    if (fault && strcmp(fault, "null") == 0) return NULL;
    if (host_major != LEADD_ABI_MAJOR) return NULL;
    if (fault && strcmp(fault, "major") == 0) { table.abi_major = 2; table.abi_minor = 0; }
    if (fault && strcmp(fault, "small") == 0) { table.struct_size = offsetof(leadd_plugin, send_batch); }
    return &table;
}

/* The working table, declaring `size` bytes; each size gets a table of its own. */
static const leadd_plugin *sized(leadd_plugin *copy, uint32_t size) {
    *copy = (leadd_plugin){
        size, LEADD_ABI_MAJOR, LEADD_ABI_MINOR, "c-test", "0.1.0", "test", NULL,
        create, send_batch, health, destroy,
    };
    return copy;
}

/* A plugin built against ABI 1.0: its table ends with `destroy`, the last field 1.0 defines. */
const leadd_plugin *bad_abi_entry_v1_0(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
    static leadd_plugin copy;
    if (host_major != LEADD_ABI_MAJOR) return NULL;
    return sized(&copy, (uint32_t)(offsetof(leadd_plugin, destroy) + sizeof(copy.destroy)));
}

/* A table one byte short of ABI 1.0. */
const leadd_plugin *bad_abi_entry_one_short(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
    static leadd_plugin copy;
    if (host_major != LEADD_ABI_MAJOR) return NULL;
    return sized(&copy, (uint32_t)(offsetof(leadd_plugin, destroy) + sizeof(copy.destroy) - 1));
}

/* A plugin from a later 1.x whose table has fields this host does not know: the host must read
   only the fields it knows, so the memory past them need not exist. */
const leadd_plugin *bad_abi_entry_later_minor(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
    static leadd_plugin copy;
    if (host_major != LEADD_ABI_MAJOR) return NULL;
    sized(&copy, (uint32_t)sizeof(leadd_plugin) + 64);
    copy.abi_minor = LEADD_ABI_MINOR + 1;
    return &copy;
}

static void *call_host(void *out) {
    const leadd_host *host = saved_host;
    host->log(host->host_context, LEADD_LOG_ERROR, "a log line after the instance was destroyed");
    leadd_result r = { sizeof(leadd_result), LEADD_OUTCOME_DELIVERED, -1, "late", "completed after destroy" };
    host->complete(host->host_context, (uint64_t)1 << 24, &r);
    *(int64_t *)out = host->now_ms(host->host_context);
    return NULL;
}

int64_t bad_abi_call_host_from_thread(void) {
    if (saved_host == NULL) return -1;
    int64_t now = -1;
    pthread_t thread;
    if (pthread_create(&thread, NULL, call_host, &now) != 0) return -1;
    pthread_join(thread, NULL);
    return now;
}
