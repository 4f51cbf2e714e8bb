/* The C test plugin's exports, declared here for SwiftPM's module map: the entry, and the test
   hooks the tests find with dlsym. */
#include "leadd_plugin.h"
const leadd_plugin *leadd_plugin_entry(uint32_t host_major, uint32_t host_minor);

/* The working table declaring the ABI 1.0 size, one byte less, and a later 1.x's larger size. */
const leadd_plugin *bad_abi_entry_v1_0(uint32_t host_major, uint32_t host_minor);
const leadd_plugin *bad_abi_entry_one_short(uint32_t host_major, uint32_t host_minor);
const leadd_plugin *bad_abi_entry_later_minor(uint32_t host_major, uint32_t host_minor);

/* Calls log, complete and now_ms of the host given to the last instance created, from a thread of
   the plugin's own, and returns what now_ms answered (-1 when no instance was ever created). */
int64_t bad_abi_call_host_from_thread(void);
