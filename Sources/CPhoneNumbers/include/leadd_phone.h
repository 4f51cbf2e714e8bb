/* A C face for libphonenumber (Google's numbering-plan library, Debian's libphonenumber), so
 * the Swift core reads phone numbers against real numbering plans without C++ interop. */
#ifndef LEADD_PHONE_H
#define LEADD_PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum leadd_phone_status {
    LEADD_PHONE_OK = 0,
    /* Not a phone number at all (letters, too short, too long). */
    LEADD_PHONE_NOT_A_NUMBER = 1,
    /* No country code and no (or an unknown) default region. */
    LEADD_PHONE_NO_REGION = 2,
    /* Parses, but no number in that country's plan has this shape. */
    LEADD_PHONE_INVALID = 3,
    /* The E.164 form did not fit the output buffer. */
    LEADD_PHONE_TOO_LONG = 4,
};

/* Reads `text` (in the plan of `region`, ISO 3166-1 alpha-2, when it has no +country code) and
 * writes its E.164 form (NUL-terminated) to `out`. `national_digits` receives the length of the
 * national significant number, for callers that apply rules of their own. */
int leadd_phone_normalize(const char *text, const char *region, char *out, size_t out_size, int *national_digits);

/* 1 when `region` has a numbering plan libphonenumber knows. */
int leadd_phone_known_region(const char *region);

#ifdef __cplusplus
}
#endif

#endif
