{
  "targets": [
    {
      "target_name": "labtel",
      "sources": [
        "native/binding.cc",
        "native/binding_bucketize.cc",
        "native/core/bucketizer.cc",
        "native/core/flow_set.cc",
        "native/core/netflow_json.cc",
        "native/core/packet_decode.cc",
        "native/core/pcap_pipeline.cc",
        "native/core/pcap_reader.cc",
        "native/core/clock.cc",
        "native/core/peer_cred.cc",
        "native/core/proc_batch.cc",
        "native/core/proc_parse.cc",
        "native/core/proc_row_json.cc",
        "native/core/proc_sampler.cc",
        "native/core/taskstats.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-fno-semantic-interposition"],
      "cflags_cc!": ["-std=gnu++17", "-fno-exceptions"]
    }
  ]
}
