// See include/leadd_phone.h.
#include "leadd_phone.h"

#include <cstring>
#include <string>

#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

extern "C" int leadd_phone_normalize(
    const char *text, const char *region, char *out, size_t out_size, int *national_digits) {
    const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    const std::string default_region = region != nullptr ? region : "ZZ";
    switch (util->Parse(text, default_region, &number)) {
    case PhoneNumberUtil::NO_PARSING_ERROR:
        break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        return LEADD_PHONE_NO_REGION;
    default:
        return LEADD_PHONE_NOT_A_NUMBER;
    }
    std::string national;
    util->GetNationalSignificantNumber(number, &national);
    if (national_digits != nullptr) *national_digits = static_cast<int>(national.size());
    std::string e164;
    util->Format(number, PhoneNumberUtil::E164, &e164);
    if (e164.size() + 1 > out_size) return LEADD_PHONE_TOO_LONG;
    std::memcpy(out, e164.c_str(), e164.size() + 1);
    return util->IsValidNumber(number) ? LEADD_PHONE_OK : LEADD_PHONE_INVALID;
}

extern "C" int leadd_phone_known_region(const char *region) {
    if (region == nullptr) return 0;
    return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(region) != 0 ? 1 : 0;
}
