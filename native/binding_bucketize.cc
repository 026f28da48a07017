// N-API glue for CaptureReader + Bucketizer: converts the options in, rows and
// status out, and nothing else. One instance per stream; no shared state.
#include "binding_bucketize.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/bucketizer.h"
#include "core/netflow_fields.h"
#include "core/netflow_json.h"
#include "core/pcap_pipeline.h"
#include "core/pcap_reader.h"

namespace {

// Reads a list of fixed-size byte arrays (addresses already packed by the TS side).
template <size_t N>
bool ReadAddrs(Napi::Env env, Napi::Object opts, const char* key, std::vector<std::array<uint8_t, N>>* out) {
  Napi::Value v = opts.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsArray()) {
    Napi::TypeError::New(env, std::string("Expected ") + key + " to be an array of Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a[i];
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        e.As<Napi::Uint8Array>().ElementLength() != N) {
      Napi::TypeError::New(env, std::string("Expected ") + key + " entries to be Uint8Array(" + std::to_string(N) + ")")
          .ThrowAsJavaScriptException();
      return false;
    }
    std::array<uint8_t, N> x;
    memcpy(x.data(), e.As<Napi::Uint8Array>().Data(), N);
    out->push_back(x);
  }
  return true;
}

// A JS number as int64_t the way x86-64's cvttsd2si does it (NaN and out of
// range: INT64_MIN), without the undefined behaviour of a plain cast; the
// pure-TS twin's toInt64() is the same rule.
int64_t ToInt64(double x) {
  if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return INT64_MIN;
  return static_cast<int64_t>(x);
}

double Num(Napi::Object o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}

bool Bool(Napi::Object o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

class CaptureBucketizerWrap : public Napi::ObjectWrap<CaptureBucketizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CaptureBucketizer",
                       {InstanceMethod<&CaptureBucketizerWrap::Feed>("feed"),
                        InstanceMethod<&CaptureBucketizerWrap::Advance>("advance"),
                        InstanceMethod<&CaptureBucketizerWrap::Finish>("finish"),
                        InstanceMethod<&CaptureBucketizerWrap::Begin>("begin"),
                        InstanceMethod<&CaptureBucketizerWrap::End>("end"),
                        InstanceMethod<&CaptureBucketizerWrap::RunFd>("runFd"),
                        InstanceMethod<&CaptureBucketizerWrap::Status>("status")});
  }

  // new CaptureBucketizer({bucketNs, originWallNs?: bigint, fillEmpty, latenessNs, skipBad, guestIps, guestMacs, bridgeIps,
  //                        maxEmptyBuckets?: number, trustedUntilNs?: number})
  explicit CaptureBucketizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CaptureBucketizerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "Expected an options object").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    labtel::BucketConfig c;
    double bucket_ns = Num(o, "bucketNs", 0);
    if (!(bucket_ns >= 1 && bucket_ns <= 9.2e18)) {
      Napi::RangeError::New(env, "Expected bucketNs to be a positive number of nanoseconds").ThrowAsJavaScriptException();
      return;
    }
    c.bucket_ns = static_cast<int64_t>(bucket_ns);
    Napi::Value origin = o.Get("originWallNs");
    if (origin.IsBigInt()) {
      bool lossless = true;
      c.have_origin = true;
      c.origin_wall_ns = origin.As<Napi::BigInt>().Int64Value(&lossless);
    }
    c.fill_empty = Bool(o, "fillEmpty", true);
    c.lateness_ns = ToInt64(Num(o, "latenessNs", 0));
    // Zero rows a gap between packets may make (core/bucketizer.h); out of range or not a number: the default.
    double max_empty = Num(o, "maxEmptyBuckets", -1);
    if (max_empty >= 0 && max_empty <= 9007199254740991.0) c.max_empty_buckets = static_cast<uint64_t>(max_empty);
    Napi::Value trusted = o.Get("trustedUntilNs");
    if (trusted.IsNumber()) c.trusted_until_ns = ToInt64(trusted.As<Napi::Number>().DoubleValue());
    if (!ReadAddrs<16>(env, o, "guestIps", &c.guest_ips) || !ReadAddrs<6>(env, o, "guestMacs", &c.guest_macs) ||
        !ReadAddrs<16>(env, o, "bridgeIps", &c.bridge_ips))
      return;
    labtel::ReaderOptions r;
    r.skip_bad = Bool(o, "skipBad", false);
    reader_ = std::make_unique<labtel::CaptureReader>(r);
    buckets_ = std::make_unique<labtel::Bucketizer>(c);
  }

 private:
  // feed(chunk: Uint8Array): Row[] — the rows this chunk closed.
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      Napi::TypeError::New(env, "Expected a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto chunk = info[0].As<Napi::Uint8Array>();
    last_ = reader_->feed(chunk.Data(), chunk.ElementLength(), *buckets_);
    return Rows(env);
  }

  // advance(nowMonoNs: number): Row[] — live use: close buckets the clock has passed.
  Napi::Value Advance(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "Expected nowMonoNs to be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    buckets_->advance(ToInt64(info[0].As<Napi::Number>().DoubleValue()));
    return Rows(env);
  }

  // finish(): {rows: Row[], lastPartial: boolean} — end of input.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    last_ = reader_->finish(*buckets_);
    bool partial = buckets_->flush();
    Napi::Object o = Napi::Object::New(env);
    o.Set("rows", Rows(env));
    o.Set("lastPartial", partial);
    return o;
  }

  // begin(nowMonoNs: number): void — live use: the capture began at nowMonoNs
  // (needs originWallNs; before any packet).
  Napi::Value Begin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "Expected nowMonoNs to be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (const char* err = buckets_->begin(ToInt64(info[0].As<Napi::Number>().DoubleValue())))
      Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // end(endMonoNs: number): {rows: Row[], lastPartial: boolean, packetsAfterEnd: number}
  // — live use: the capture ended at endMonoNs. The end of input (as finish()),
  // then every bucket starting before endMonoNs closes; later ones are
  // dropped, their packets counted. Only status() may follow.
  Napi::Value End(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "Expected endMonoNs to be a number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    last_ = reader_->finish(*buckets_);
    labtel::EndResult r;
    buckets_->end(ToInt64(info[0].As<Napi::Number>().DoubleValue()), &r);  // not ended yet: cannot refuse
    Napi::Object o = Napi::Object::New(env);
    o.Set("rows", Rows(env));
    o.Set("lastPartial", r.last_partial);
    o.Set("packetsAfterEnd", static_cast<double>(r.packets_after_end));
    return o;
  }

  // runFd(fd, {bucketMs, availableInDeployment, seq}, onLines: (lines, rows, bytes, packets) => void): {readErrno, lastPartial}
  // (status() must not be called from onLines: the parse thread is still running.)
  // A whole file (or pipe) through the pipeline (core/pcap_pipeline: a read
  // and parse thread, and this one bucketing). The rows come back as finished
  // JSONL lines (core/netflow_json), formatted straight into one buffer and
  // handed over after each job of packets (and whenever the buffer is full),
  // so no JS work is done per row; onLines runs on this thread. `lines` is a
  // Uint8Array view of that buffer, which is reused: onLines must be done
  // with it when it returns (write it, not keep it). The end of input is
  // handled as by finish().
  Napi::Value RunFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Ended(env)) return env.Undefined();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsObject() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "Expected (fd: number, format: object, onLines: function)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Object fo = info[1].As<Napi::Object>();
    labtel::NetflowJsonFormat format;
    format.bucket_ms = fo.Get("bucketMs").ToString().Utf8Value();
    format.available_in_deployment = fo.Get("availableInDeployment").ToBoolean().Value();
    uint64_t seq = static_cast<uint64_t>(fo.Get("seq").ToNumber().DoubleValue());
    Napi::Function on_lines = info[2].As<Napi::Function>();
    // The rows' buffer: 1 MiB (a block of packets makes ~40 KB of rows here;
    // a long run of zero rows is handed over 1 MiB at a time).
    const size_t row_max = labtel::netflow_row_max_bytes(format);
    const size_t cap = std::max<size_t>(size_t(1) << 20, 2 * row_max);
    napi_value array_buffer;
    void* data = nullptr;
    if (napi_create_arraybuffer(env, cap, &data, &array_buffer) != napi_ok) {
      if (!env.IsExceptionPending()) {
        const napi_extended_error_info* why = nullptr;
        const char* reason = napi_get_last_error_info(env, &why) == napi_ok && why && why->error_message ? why->error_message : "no reason given";
        Napi::Error::New(env, "cannot make a buffer for the rows (" + std::to_string(cap) + " bytes): " + reason).ThrowAsJavaScriptException();
      }
      return env.Undefined();
    }
    char* buf = static_cast<char*>(data);
    size_t used = 0, rows = 0;
    bool threw = false;
    auto fail = [&](const std::string& why) {
      if (!env.IsExceptionPending()) Napi::Error::New(env, why).ThrowAsJavaScriptException();
      threw = true;
      return false;
    };
    // N-API's own reason for the last failed call, for a message that carries its cause.
    auto napi_reason = [&]() -> std::string {
      const napi_extended_error_info* info = nullptr;
      if (napi_get_last_error_info(env, &info) != napi_ok || info == nullptr || info->error_message == nullptr) return "no reason given";
      return info->error_message;
    };
    // Hands the rows formatted so far to onLines (none: progress only); false when it threw.
    // Its own handle scope: runFd is one native call, and every block's string
    // would otherwise stay alive until it returns (RSS grew with the output).
    auto hand = [&](uint64_t bytes) {
      Napi::HandleScope scope(env);
      napi_value lines;
      if (napi_create_typedarray(env, napi_uint8_array, used, array_buffer, 0, &lines) != napi_ok)
        return fail("cannot make a view of the rows (" + std::to_string(used) + " bytes): " + napi_reason());
      on_lines.Call({lines, Napi::Number::New(env, double(rows)), Napi::Number::New(env, double(bytes)),
                     Napi::Number::New(env, double(buckets_->packets()))});
      used = 0;
      rows = 0;
      if (env.IsExceptionPending()) return fail("");
      // The buffer must still be ours (not detached, e.g. transferred away by onLines).
      void* now = nullptr;
      size_t len = 0;
      if (napi_get_arraybuffer_info(env, array_buffer, &now, &len) != napi_ok || now != data || len != cap)
        return fail("runFd: onLines took the rows' buffer away");
      return true;
    };
    // Formats every closed row (final_partial: the last of them is partial),
    // handing the buffer over whenever the next row might not fit; false
    // when onLines threw.
    auto take = [&](bool final_partial, uint64_t bytes) {
      do {
        std::vector<labtel::BucketRow>& ready = buckets_->ready();  // may materialize the next zero rows: call once per batch
        bool last_batch = !buckets_->rows_pending();
        for (size_t i = 0; i < ready.size(); i++) {
          if (cap - used < row_max && !hand(bytes)) return false;
          bool partial = final_partial && last_batch && i + 1 == ready.size();
          used = size_t(labtel::format_netflow_row(ready[i], format, seq++, partial, buf + used) - buf);
          rows++;
        }
        ready.clear();
      } while (buckets_->rows_pending());
      return true;
    };
    uint64_t reported = 0;
    labtel::PipelineResult r = labtel::run_pipeline(fd, *reader_, *buckets_, labtel::PipelineOptions{}, [&](uint64_t bytes) {
      if (!take(false, bytes)) return false;
      if (rows == 0 && bytes - reported < (16u << 20)) return true;  // nothing to hand over yet
      reported = bytes;
      return hand(bytes);
    });
    last_ = r.feed;
    if (threw) return env.Undefined();
    bool partial = buckets_->flush();
    if (!take(partial, r.bytes_read) || !hand(r.bytes_read)) return env.Undefined();
    Napi::Object o = Napi::Object::New(env);
    o.Set("readErrno", r.read_errno);
    o.Set("lastPartial", partial);
    return o;
  }

  // status(): {ok, error, errorOffset, offset, packets, skippedBytes, skippedRecords, recordsOverSnaplen, holes, emptyBucketsSkipped}
  Napi::Value Status(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("ok", last_.ok);
    o.Set("error", last_.ok ? env.Null() : Napi::String::New(env, last_.error));
    o.Set("errorOffset", last_.ok ? env.Null() : Napi::Number::New(env, static_cast<double>(last_.error_offset)));
    o.Set("offset", static_cast<double>(reader_->offset()));
    o.Set("packets", static_cast<double>(buckets_->packets()));
    o.Set("skippedBytes", static_cast<double>(last_.skipped_bytes));
    o.Set("skippedRecords", static_cast<double>(last_.skipped_records));
    // Classic pcap records longer than the file's snaplen, read as libpcap does (cut to it).
    o.Set("recordsOverSnaplen", static_cast<double>(last_.records_over_snaplen));
    o.Set("holes", static_cast<double>(buckets_->holes()));
    o.Set("emptyBucketsSkipped", static_cast<double>(buckets_->empty_buckets_skipped()));
    return o;
  }

  // After end() only status() is allowed: throws and returns true then.
  bool Ended(Napi::Env env) {
    if (!buckets_->ended()) return false;
    Napi::Error::New(env, labtel::Bucketizer::kEnded).ThrowAsJavaScriptException();
    return true;
  }

  // Every closed row, packed (core/netflow_fields.h: kNetflowRowWidth doubles
  // per row, t_mono_ns first, distinct_estimated 0 or 1). One typed array
  // instead of an object per row: building objects property by property
  // through N-API cost more than the bucketing itself.
  // src/collectors/netflow/bucketizer.ts unpacks it.
  Napi::Float64Array Rows(Napi::Env env) {
    packed_.clear();
    do {
      std::vector<labtel::BucketRow>& ready = buckets_->ready();  // may materialize the next zero rows: call once per batch
      size_t at = packed_.size();
      packed_.resize(at + ready.size() * labtel::kNetflowRowWidth);
      for (const labtel::BucketRow& r : ready) {
        labtel::pack_netflow_row(r, packed_.data() + at);
        at += labtel::kNetflowRowWidth;
      }
      ready.clear();
    } while (buckets_->rows_pending());
    Napi::Float64Array a = Napi::Float64Array::New(env, packed_.size());
    if (!packed_.empty()) memcpy(a.Data(), packed_.data(), packed_.size() * sizeof(double));
    return a;
  }

  std::vector<double> packed_;
  std::unique_ptr<labtel::CaptureReader> reader_;
  std::unique_ptr<labtel::Bucketizer> buckets_;
  labtel::FeedResult last_;
};

}  // namespace

Napi::Function DefineCaptureBucketizer(Napi::Env env) { return CaptureBucketizerWrap::Define(env); }

// netflowFieldNames(): string[] — what a packed row carries after t_mono_ns, in order.
Napi::Value NetflowFieldNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, labtel::NF_COUNT);
  for (uint32_t i = 0; i < labtel::NF_COUNT; i++) a[i] = Napi::String::New(env, labtel::kNetflowFieldNames[i]);
  return a;
}
