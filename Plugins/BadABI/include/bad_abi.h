/* The C test plugin exports only leadd_plugin_entry, declared here for SwiftPM's module map. */
#include "leadd_plugin.h"
const leadd_plugin *leadd_plugin_entry(uint32_t host_major, uint32_t host_minor);
