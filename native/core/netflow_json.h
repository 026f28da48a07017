// netflow rows as JSONL text, for the file path of `labtel bucketize`: the
// same bytes src/collectors/netflow/offline/bucketize-file.ts writes from packed rows (a test
// compares them), without building a JS object or string per row.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bucketizer.h"

namespace labtel {

struct NetflowJsonFormat {
  std::string bucket_ms;           // as JS prints the number
  bool available_in_deployment = true;
};

// The most bytes one row's line can take in format f (every number at its
// longest): format_netflow_row() needs that much room.
size_t netflow_row_max_bytes(const NetflowJsonFormat& f);

// Writes row r's line (newline included) at out, which has room for
// netflow_row_max_bytes(f); returns its end. Straight into the caller's
// buffer: no string grown a piece at a time.
char* format_netflow_row(const BucketRow& r, const NetflowJsonFormat& f, uint64_t seq, bool partial, char* out);

// Appends one line per row to *out, with seq counting from *seq (advanced).
// last_partial marks the last row of `rows` as partial.
void append_netflow_json(const std::vector<BucketRow>& rows, const NetflowJsonFormat& f, uint64_t* seq,
                         bool last_partial, std::string* out);

}  // namespace labtel
