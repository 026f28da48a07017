#include "proc_row_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace labtel {

void append_js_number(std::string* out, double x) {
  if (x == 0) {  // -0 too: String(-0) is "0"
    out->push_back('0');
    return;
  }
  if (std::isinf(x)) {
    out->append(x < 0 ? "-Infinity" : "Infinity");
    return;
  }
  char buf[64];
  // Integers below 2^53 (nearly every value: counters, bytes, ns): plain digits.
  if (std::fabs(x) < 9007199254740992.0 && x == std::trunc(x)) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(x));
    out->append(buf, r.ptr);
    return;
  }
  // The shortest digits that read back as x (as ECMAScript's Number::toString
  // asks), then its layout rules: k digits, decimal exponent n.
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  const char* p = buf;
  const char* end = r.ptr;
  if (*p == '-') {
    out->push_back('-');
    p++;
  }
  char digits[32];
  int k = 0;
  for (; p < end && *p != 'e'; p++)
    if (*p != '.') digits[k++] = *p;
  int e = 0;
  std::from_chars(p + 1 + (p[1] == '+'), end, e);
  int n = e + 1;
  if (k <= n && n <= 21) {
    out->append(digits, k);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    char eb[8];
    auto er = std::to_chars(eb, eb + sizeof eb, n - 1 >= 0 ? n - 1 : 1 - n);
    out->append(eb, er.ptr);
  }
}

void append_state_json(std::string* out, int c) {
  c &= 0xff;
  out->push_back('"');
  switch (c) {
    case '"': out->append("\\\""); break;
    case '\\': out->append("\\\\"); break;
    case '\b': out->append("\\b"); break;
    case '\f': out->append("\\f"); break;
    case '\n': out->append("\\n"); break;
    case '\r': out->append("\\r"); break;
    case '\t': out->append("\\t"); break;
    default:
      if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        out->append("\\u00");
        out->push_back(hex[c >> 4]);
        out->push_back(hex[c & 15]);
      } else if (c < 0x80) {
        out->push_back(static_cast<char>(c));
      } else {  // U+0080..U+00FF in UTF-8
        out->push_back(static_cast<char>(0xc0 | (c >> 6)));
        out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
      }
  }
  out->push_back('"');
}

}  // namespace labtel
