{
  "targets": [
    {
      "target_name": "podnet_engine",
      "sources": [
        "native/binding/engine_wrap.cc",
        "native/binding/convert.cc",
        "native/binding/service_specs.cc",
        "native/binding/policy.cc",
        "native/binding/trace.cc",
        "native/options.cc",
        "native/checksum.cc",
        "native/packet.cc",
        "native/maglev.cc",
        "native/flow_table.cc",
        "native/service_table.cc",
        "native/pipeline.cc",
        "native/icmp.cc",
        "native/reply.cc",
        "native/tun.cc",
        "native/tun_steering.cc",
        "native/engine.cc",
        "native/sd_notify.cc",
        "native/policy.cc",
        "native/policy_build.cc",
        "native/range_set.cc",
        "native/new_flow.cc",
        "native/rewrite.cc",
        "native/state_file.cc",
        "native/addr_text.cc",
        "native/kernel_cache.cc",
        "native/binding/fast_path.cc",
        "native/binding/events.cc",
        "native/events.cc",
        "native/fastpath/loader.cc",
        "native/fastpath/attach.cc",
        "native/fastpath/maps.cc",
        "native/fastpath/embedded.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<(module_root_dir)/build/bpf"],
      "libraries": ["-lbpf"],
      "actions": [
        {
          "action_name": "bpf_program",
          "inputs": ["native/bpf/flow_cache.bpf.c", "native/bpf/flow_cache.h", "native/bpf/testrun.c", "native/bpf/build.sh"],
          "outputs": ["<(module_root_dir)/build/bpf/flow_cache.bpf.inc"],
          "action": ["sh", "native/bpf/build.sh"]
        }
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-O3"],
      "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers", "-fexceptions"],
      "conditions": [
        ["'<!(echo $PODNET_SANITIZE)'=='1'", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
