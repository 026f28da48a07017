// JSON text for host_proc rows, byte for byte as JavaScript writes it: a
// number as Number.prototype.toString() spells it, and the state letter as
// JSON.stringify(String.fromCharCode(c)) encodes it in UTF-8.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace labtel {

// Room write_js_number needs: String(x) is at most 25 bytes
// ("-0.000001234567890123456" and "-1.7976931348623157e+308" are 24).
constexpr size_t kJsNumberMax = 32;
// Room write_state_json needs: a quote, up to six bytes ("\u001f"), a quote.
constexpr size_t kStateJsonMax = 8;

// Writes x as String(x) would give it (-0 as "0", 1e21 and up, and below
// 1e-6, in exponent form) at w, which has room for kJsNumberMax bytes;
// returns the end. x must not be NaN (a null is the caller's).
char* write_js_number(char* w, double x);

// The same text as write_js_number(w, static_cast<double>(ns) / 1e9) (a
// duration in ns spelled in seconds), without the shortest-digits search
// when 0 < ns < 1e15: the decimal ns × 10^-9 has at most 15 significant
// digits, so it is the shortest spelling of the double nearest it.
char* write_js_seconds_of_ns(char* w, int64_t ns);

// Writes JSON.stringify(String.fromCharCode(c & 0xff)), UTF-8 encoded, at w
// (room for kStateJsonMax bytes); returns the end.
char* write_state_json(char* w, int c);

}  // namespace labtel
