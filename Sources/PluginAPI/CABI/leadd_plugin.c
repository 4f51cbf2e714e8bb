/* The ABI is a header only; this file gives SwiftPM a C target to build. */
#include "leadd_plugin.h"
