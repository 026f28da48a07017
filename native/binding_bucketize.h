// Glue for the capture reader + bucketizer (binding_bucketize.cc).
#pragma once
#include <napi.h>

Napi::Function DefineCaptureBucketizer(Napi::Env env);
