#include <sqlite3.h>

/*
 * sqlite3_config is variadic, which Swift cannot call. Memory statistics make every allocation
 * take a global mutex; leadd never reads them. Must run before SQLite is first used.
 */
static inline int leadd_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
