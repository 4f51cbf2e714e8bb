/* libpq, PostgreSQL's client library, for the benchmark's PostgreSQL reference. */
#ifndef LEADD_LIBPQ_SHIM_H
#define LEADD_LIBPQ_SHIM_H

#include <libpq-fe.h>

#endif
