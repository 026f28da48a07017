// Glue for the capture reader + bucketizer (binding_bucketize.cc).
#pragma once
#include <napi.h>

Napi::Function DefineCaptureBucketizer(Napi::Env env);
// netflowFieldNames(): the packed row layout of core/netflow_fields.h.
Napi::Value NetflowFieldNames(const Napi::CallbackInfo& info);
