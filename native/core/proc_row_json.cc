#include "proc_row_json.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace labtel {

namespace {

// ECMAScript's Number::toString layout for the digits d[0..k) (no leading or
// trailing zeros) of a value d × 10^(n-k), after its sign.
char* layout(char* w, const char* d, int k, int n) {
  if (k <= n && n <= 21) {
    std::memcpy(w, d, k);
    w += k;
    std::memset(w, '0', n - k);
    return w + (n - k);
  }
  if (0 < n && n <= 21) {
    std::memcpy(w, d, n);
    w += n;
    *w++ = '.';
    std::memcpy(w, d + n, k - n);
    return w + (k - n);
  }
  if (-6 < n && n <= 0) {
    *w++ = '0';
    *w++ = '.';
    std::memset(w, '0', -n);
    w += -n;
    std::memcpy(w, d, k);
    return w + k;
  }
  *w++ = d[0];
  if (k > 1) {
    *w++ = '.';
    std::memcpy(w, d + 1, k - 1);
    w += k - 1;
  }
  *w++ = 'e';
  *w++ = n - 1 >= 0 ? '+' : '-';
  return std::to_chars(w, w + 8, n - 1 >= 0 ? n - 1 : 1 - n).ptr;
}

}  // namespace

char* write_js_number(char* w, double x) {
  if (x == 0) {  // -0 too: String(-0) is "0"
    *w++ = '0';
    return w;
  }
  if (std::isinf(x)) {
    const char* s = x < 0 ? "-Infinity" : "Infinity";
    size_t n = std::strlen(s);
    std::memcpy(w, s, n);
    return w + n;
  }
  // Integers below 2^53 (nearly every value: counters, bytes, ns): plain digits.
  if (std::fabs(x) < 9007199254740992.0 && x == std::trunc(x))
    return std::to_chars(w, w + kJsNumberMax, static_cast<int64_t>(x)).ptr;
  // The shortest digits that read back as x (as ECMAScript's Number::toString
  // asks), then its layout rules: k digits, decimal exponent n.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  const char* p = buf;
  const char* end = r.ptr;
  if (*p == '-') {
    *w++ = '-';
    p++;
  }
  char digits[32];
  int k = 0;
  for (; p < end && *p != 'e'; p++)
    if (*p != '.') digits[k++] = *p;
  int e = 0;
  std::from_chars(p + 1 + (p[1] == '+'), end, e);
  return layout(w, digits, k, e + 1);
}

char* write_js_seconds_of_ns(char* w, int64_t ns) {
  if (ns <= 0 || ns >= 1000000000000000LL) return write_js_number(w, static_cast<double>(ns) / 1e9);
  char d[20];
  int len = static_cast<int>(std::to_chars(d, d + sizeof d, ns).ptr - d);
  int k = len;
  while (d[k - 1] == '0') k--;  // ns > 0: a nonzero digit stops it
  // ns × 10^-9 = 0.d[0..len) × 10^(len - 9).
  return layout(w, d, k, len - 9);
}

char* write_state_json(char* w, int c) {
  c &= 0xff;
  *w++ = '"';
  switch (c) {
    case '"': *w++ = '\\'; *w++ = '"'; break;
    case '\\': *w++ = '\\'; *w++ = '\\'; break;
    case '\b': *w++ = '\\'; *w++ = 'b'; break;
    case '\f': *w++ = '\\'; *w++ = 'f'; break;
    case '\n': *w++ = '\\'; *w++ = 'n'; break;
    case '\r': *w++ = '\\'; *w++ = 'r'; break;
    case '\t': *w++ = '\\'; *w++ = 't'; break;
    default:
      if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        std::memcpy(w, "\\u00", 4);
        w += 4;
        *w++ = hex[c >> 4];
        *w++ = hex[c & 15];
      } else if (c < 0x80) {
        *w++ = static_cast<char>(c);
      } else {  // U+0080..U+00FF in UTF-8
        *w++ = static_cast<char>(0xc0 | (c >> 6));
        *w++ = static_cast<char>(0x80 | (c & 0x3f));
      }
  }
  *w++ = '"';
  return w;
}

}  // namespace labtel
