// JSON text for host_proc rows, byte for byte as JavaScript writes it: a
// number as Number.prototype.toString() spells it, and the state letter as
// JSON.stringify(String.fromCharCode(c)) encodes it in UTF-8.
#pragma once
#include <string>

namespace labtel {

// Appends x as String(x) would give it (-0 as "0", 1e21 and up, and below
// 1e-6, in exponent form). x must not be NaN (a null is the caller's).
void append_js_number(std::string* out, double x);

// Appends JSON.stringify(String.fromCharCode(c & 0xff)), UTF-8 encoded.
void append_state_json(std::string* out, int c);

}  // namespace labtel
