// N-API glue only: argument checks, conversions, and the JS objects. The work
// is in core/, which never includes napi.h. State lives in the per-environment
// addon instance, so the addon works in every worker thread.
#include <napi.h>

#include <cmath>
#include <memory>
#include <unistd.h>

#include "binding_bucketize.h"
#include "core/clock.h"
#include "core/peer_cred.h"
#include "core/proc_batch.h"
#include "core/proc_fields.h"
#include "core/proc_sampler.h"

namespace {

#define EXPECT(cond, msg)                                   \
  do {                                                      \
    if (!(cond)) {                                          \
      Napi::TypeError::New(env, msg).ThrowAsJavaScriptException(); \
      return env.Undefined();                               \
    }                                                       \
  } while (0)

Napi::Value NumberOrNull(Napi::Env env, double v) {
  return std::isnan(v) ? env.Null() : Napi::Number::New(env, v);
}

// comm is bytes, not text: a process may name itself anything, and the kernel
// cuts names at 15 bytes, mid-character. Latin-1 maps each byte to one code
// unit, exactly as the TS sampler reads the file.
Napi::Value Latin1(Napi::Env env, const std::string& s) {
  napi_value v;
  napi_status st = napi_create_string_latin1(env, s.data(), s.size(), &v);
  NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  return Napi::Value(env, v);
}

class ProcSamplerWrap : public Napi::ObjectWrap<ProcSamplerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ProcSampler",
                       {InstanceMethod<&ProcSamplerWrap::Open>("open"),
                        InstanceMethod<&ProcSamplerWrap::Sample>("sample"),
                        InstanceMethod<&ProcSamplerWrap::Threads>("threads"),
                        InstanceMethod<&ProcSamplerWrap::ThreadsError>("threadsError"),
                        InstanceMethod<&ProcSamplerWrap::BatchFormat>("batchFormat"),
                        InstanceMethod<&ProcSamplerWrap::BatchSignature>("batchSignature"),
                        InstanceMethod<&ProcSamplerWrap::Batch>("batch"),
                        InstanceMethod<&ProcSamplerWrap::Close>("close")});
  }

  // new ProcSampler(procRoot: string, pid: number, pageSize: number)
  explicit ProcSamplerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcSamplerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "Expected (procRoot: string, pid: number, pageSize: number)")
          .ThrowAsJavaScriptException();
      return;
    }
    double pid = info[1].As<Napi::Number>().DoubleValue();
    if (!(pid >= 1 && pid <= 2147483647 && pid == static_cast<double>(static_cast<int32_t>(pid)))) {
      Napi::RangeError::New(env, "Expected pid to be an integer from 1 to 2147483647").ThrowAsJavaScriptException();
      return;
    }
    core_ = std::make_unique<labtel::ProcSampler>(info[0].As<Napi::String>().Utf8Value(), static_cast<int>(pid),
                                                  info[2].As<Napi::Number>().DoubleValue());
  }

 private:
  // open(): number — 0 or the errno of the process directory.
  Napi::Value Open(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), core_->open());
  }

  // sample(values: Float64Array, errors: Int32Array): void — fills in place.
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EXPECT(info.Length() >= 2 && info[0].IsTypedArray() && info[1].IsTypedArray(),
           "Expected (values: Float64Array, errors: Int32Array)");
    auto values = info[0].As<Napi::TypedArray>();
    auto errors = info[1].As<Napi::TypedArray>();
    EXPECT(values.TypedArrayType() == napi_float64_array && values.ElementLength() >= labtel::F_COUNT,
           "Expected values to be a Float64Array of at least procFieldNames().length");
    EXPECT(errors.TypedArrayType() == napi_int32_array && errors.ElementLength() >= labtel::PE_COUNT,
           "Expected errors to be an Int32Array of at least 5");
    labtel::ProcSample s;
    core_->sample(&s);
    double* v = values.As<Napi::Float64Array>().Data();
    int32_t* e = errors.As<Napi::Int32Array>().Data();
    for (int i = 0; i < labtel::F_COUNT; i++) v[i] = s.v[i];
    for (int i = 0; i < labtel::PE_COUNT; i++) e[i] = s.err[i];
    return env.Undefined();
  }

  // threads(): Array<{tid, comm, error, cpu_user_jiffies, ..., cpu_time_ns, run_delay_ns, run_periods, sched_error}>
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    threads_err_ = core_->sample_threads(&threads_);
    Napi::Array out = Napi::Array::New(env, threads_.size());
    for (size_t i = 0; i < threads_.size(); i++) {
      const labtel::ThreadSample& t = threads_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("tid", t.tid);
      o.Set("comm", Latin1(env, t.comm));
      o.Set("error", t.err);
      o.Set("cpu_user_jiffies", NumberOrNull(env, t.v[labtel::F_UTIME]));
      o.Set("cpu_sys_jiffies", NumberOrNull(env, t.v[labtel::F_STIME]));
      o.Set("minflt", NumberOrNull(env, t.v[labtel::F_MINFLT]));
      o.Set("majflt", NumberOrNull(env, t.v[labtel::F_MAJFLT]));
      o.Set("starttime", NumberOrNull(env, t.v[labtel::F_STARTTIME]));
      o.Set("state", NumberOrNull(env, t.v[labtel::F_STATE]));
      o.Set("processor", NumberOrNull(env, t.v[labtel::F_PROCESSOR]));
      o.Set("cpu_time_ns", NumberOrNull(env, t.sched.cpu_time_ns));
      o.Set("run_delay_ns", NumberOrNull(env, t.sched.run_delay_ns));
      o.Set("run_periods", NumberOrNull(env, t.sched.run_periods));
      o.Set("sched_error", t.sched_err);
      out[i] = o;
    }
    return out;
  }

  // threadsError(): number — 0, or the errno of the last threads() call's listing of task/ (it returned []).
  Napi::Value ThreadsError(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), threads_err_);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    core_->close();
    return info.Env().Undefined();
  }

  // batchFormat(head, seqKey, afterSeq: string, originNs: bigint, periodNs: number, maxRows: number): void
  Napi::Value BatchFormat(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EXPECT(info.Length() >= 6 && info[0].IsString() && info[1].IsString() && info[2].IsString() && info[3].IsBigInt() &&
               info[4].IsNumber() && info[5].IsNumber(),
           "Expected (head: string, seqKey: string, afterSeq: string, originNs: bigint, periodNs: number, maxRows: number)");
    bool lossless = false;
    int64_t origin = info[3].As<Napi::BigInt>().Int64Value(&lossless);
    double period = info[4].As<Napi::Number>().DoubleValue();
    double rows = info[5].As<Napi::Number>().DoubleValue();
    EXPECT(lossless, "Expected originNs to fit in 64 bits");
    EXPECT(period >= 1 && period <= 1e12, "Expected periodNs from 1 to 1e12");
    EXPECT(rows >= 1 && rows <= 1e6, "Expected maxRows from 1 to 1e6");
    format_.head = info[0].As<Napi::String>().Utf8Value();
    format_.seq_key = info[1].As<Napi::String>().Utf8Value();
    format_.after_seq = info[2].As<Napi::String>().Utf8Value();
    format_.origin_ns = origin;
    format_.period_ns = static_cast<int64_t>(period);
    format_.max_rows = static_cast<int>(rows);
    return env.Undefined();
  }

  // batchSignature(values: Float64Array, errors: Int32Array, reasons: string): void — the rows batch() may format.
  Napi::Value BatchSignature(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double* v = nullptr;
    int32_t* e = nullptr;
    if (!SampleArrays(info, &v, &e)) return env.Undefined();
    EXPECT(info.Length() >= 3 && info[2].IsString(), "Expected (values: Float64Array, errors: Int32Array, reasons: string)");
    sig_.set = true;
    for (int i = 0; i < labtel::PE_COUNT; i++) sig_.err[i] = e[i];
    sig_.nan_mask = labtel::nan_mask_of(v);
    sig_.reasons = info[2].As<Napi::String>().Utf8Value();
    return env.Undefined();
  }

  // batch(state: Float64Array, stop: Int32Array, values: Float64Array, errors: Int32Array): string — the rows' text.
  // state: [seq, prevT, identity, nextNs] in and out, then out: [end, rows, measured, handoffT].
  Napi::Value Batch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EXPECT(info.Length() >= 4 && info[0].IsTypedArray() && info[1].IsTypedArray(),
           "Expected (state: Float64Array, stop: Int32Array, values: Float64Array, errors: Int32Array)");
    auto state = info[0].As<Napi::TypedArray>();
    auto stop = info[1].As<Napi::TypedArray>();
    EXPECT(state.TypedArrayType() == napi_float64_array && state.ElementLength() >= 8, "Expected state to be a Float64Array of 8");
    EXPECT(stop.TypedArrayType() == napi_int32_array && stop.ElementLength() >= 1, "Expected stop to be an Int32Array");
    double* v = nullptr;
    int32_t* e = nullptr;
    if (!SampleArrays(info, &v, &e, 2)) return env.Undefined();
    double* st = state.As<Napi::Float64Array>().Data();
    labtel::ProcBatchState s;
    s.seq = st[0];
    s.prev_t = static_cast<int64_t>(st[1]);
    s.identity = st[2];
    s.next_ns = static_cast<int64_t>(st[3]);
    labtel::ProcSample handoff;
    out_.clear();
    labtel::ProcBatchResult r =
        labtel::run_proc_batch(core_.get(), format_, sig_, &s, stop.As<Napi::Int32Array>().Data(), &out_, &handoff);
    st[0] = s.seq;
    st[1] = static_cast<double>(s.prev_t);
    st[3] = static_cast<double>(s.next_ns);
    st[4] = r.end;
    st[5] = r.rows;
    st[6] = r.measured;
    st[7] = static_cast<double>(r.handoff_t);
    if (r.end == labtel::kBatchHandoff) {
      for (int i = 0; i < labtel::F_COUNT; i++) v[i] = handoff.v[i];
      for (int i = 0; i < labtel::PE_COUNT; i++) e[i] = handoff.err[i];
    }
    napi_value text;
    napi_status status = napi_create_string_utf8(env, out_.data(), out_.size(), &text);
    NAPI_THROW_IF_FAILED(env, status, Napi::Value());
    return Napi::Value(env, text);
  }

  // (values: Float64Array, errors: Int32Array) at info[at], info[at + 1]; throws and returns false otherwise.
  static bool SampleArrays(const Napi::CallbackInfo& info, double** v, int32_t** e, size_t at = 0) {
    Napi::Env env = info.Env();
    bool ok = info.Length() >= at + 2 && info[at].IsTypedArray() && info[at + 1].IsTypedArray();
    if (ok) {
      auto values = info[at].As<Napi::TypedArray>();
      auto errors = info[at + 1].As<Napi::TypedArray>();
      ok = values.TypedArrayType() == napi_float64_array && values.ElementLength() >= labtel::F_COUNT &&
           errors.TypedArrayType() == napi_int32_array && errors.ElementLength() >= labtel::PE_COUNT;
      if (ok) {
        *v = values.As<Napi::Float64Array>().Data();
        *e = errors.As<Napi::Int32Array>().Data();
      }
    }
    if (!ok) Napi::TypeError::New(env, "Expected values: Float64Array of procFieldNames().length and errors: Int32Array of 5").ThrowAsJavaScriptException();
    return ok;
  }

  std::unique_ptr<labtel::ProcSampler> core_;
  std::vector<labtel::ThreadSample> threads_;
  int threads_err_ = 0;
  labtel::ProcBatchFormat format_;
  labtel::ProcRowSignature sig_;
  std::string out_;
};

class LabtelAddon : public Napi::Addon<LabtelAddon> {
 public:
  LabtelAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
        InstanceMethod<&LabtelAddon::ReadClocks>("readClocks"),
        InstanceMethod<&LabtelAddon::ProcFieldNames>("procFieldNames"),
        InstanceMethod<&LabtelAddon::SysconfValues>("sysconf"),
        InstanceMethod<&LabtelAddon::PeerCred>("peerCred"),
        InstanceValue("ProcSampler", ProcSamplerWrap::Define(env)),
        InstanceValue("CaptureBucketizer", DefineCaptureBucketizer(env)),
        InstanceValue("netflowFieldNames", Napi::Function::New<NetflowFieldNames>(env, "netflowFieldNames")),
    });
  }

 private:
  // readClocks(): [monoBeforeNs, realtimeNs, monoAfterNs] as BigInts.
  Napi::Value ReadClocks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    labtel::ClockReading r = labtel::read_clocks();
    Napi::Array a = Napi::Array::New(env, 3);
    a[0u] = Napi::BigInt::New(env, r.mono_before_ns);
    a[1u] = Napi::BigInt::New(env, r.realtime_ns);
    a[2u] = Napi::BigInt::New(env, r.mono_after_ns);
    return a;
  }

  Napi::Value ProcFieldNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, labtel::F_COUNT);
    for (uint32_t i = 0; i < labtel::F_COUNT; i++) a[i] = Napi::String::New(env, labtel::kProcFieldNames[i]);
    return a;
  }

  // peerCred(fd: number): {pid, uid, gid} | {errno} — SO_PEERCRED of a connected unix socket.
  Napi::Value PeerCred(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    EXPECT(info.Length() >= 1 && info[0].IsNumber(), "Expected (fd: number)");
    double fd = info[0].As<Napi::Number>().DoubleValue();
    EXPECT(fd >= 0 && fd <= 2147483647 && fd == static_cast<double>(static_cast<int32_t>(fd)),
           "Expected fd to be an integer from 0 to 2147483647");
    labtel::PeerCred c{};
    int err = labtel::peer_cred(static_cast<int>(fd), &c);
    Napi::Object o = Napi::Object::New(env);
    if (err != 0) {
      o.Set("errno", err);
      return o;
    }
    o.Set("pid", c.pid);
    o.Set("uid", static_cast<double>(c.uid));
    o.Set("gid", static_cast<double>(c.gid));
    return o;
  }

  // sysconf(): {pageSize, clockTicks}
  Napi::Value SysconfValues(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("pageSize", static_cast<double>(sysconf(_SC_PAGESIZE)));
    o.Set("clockTicks", static_cast<double>(sysconf(_SC_CLK_TCK)));
    return o;
  }
};

}  // namespace

NODE_API_ADDON(LabtelAddon)
