/* Loaded with LD_PRELOAD into a real leadd by the tests: see fault_injection.c. */
#ifndef LEADD_FAULT_INJECTION_H
#define LEADD_FAULT_INJECTION_H
#endif
