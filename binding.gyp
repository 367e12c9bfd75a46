{
  # The kernels (kernels.c, and any file added to per_isa_sources) are compiled once per ISA level into a
  # static library each, with the level as their symbols' suffix (native/kernels.h); native/dispatch.c
  # picks one level at load by the CPU's features. The addon itself is built for the architecture's
  # baseline, so a prebuilt addon loads on any CPU of the architecture. -ffp-contract=off everywhere:
  # no fused multiply-add, so every level gives the same bits as the JS reference.
  "variables": {
    "per_isa_sources": ["native/kernels.c", "native/kernels_quant.c", "native/float_format.c"],
    "kernel_cflags": ["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-Wall", "-Wextra"]
  },
  "target_defaults": {
    "cflags": ["<@(kernel_cflags)"],
    "xcode_settings": {"OTHER_CFLAGS": ["-O3", "-ffp-contract=off", "-fno-fast-math"]}
  },
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {"target_name": "kernels_v2", "type": "static_library", "sources": ["<@(per_isa_sources)"],
         "defines": ["KERNEL_ISA=v2"], "cflags": ["-march=x86-64-v2", "-fPIC"],
         "xcode_settings": {"OTHER_CFLAGS": ["-march=x86-64-v2"]}},
        {"target_name": "kernels_v3", "type": "static_library", "sources": ["<@(per_isa_sources)"],
         "defines": ["KERNEL_ISA=v3"], "cflags": ["-march=x86-64-v3", "-fPIC"],
         "xcode_settings": {"OTHER_CFLAGS": ["-march=x86-64-v3"]}},
        {"target_name": "kernels_v4", "type": "static_library", "sources": ["<@(per_isa_sources)"],
         "defines": ["KERNEL_ISA=v4"], "cflags": ["-march=x86-64-v4", "-fPIC"],
         "xcode_settings": {"OTHER_CFLAGS": ["-march=x86-64-v4"]}},
        {"target_name": "lookup_kernels",
         "sources": ["native/addon.c", "native/batch.c", "native/dispatch.c", "native/napi_util.c",
                      "native/float_format.c", "native/float_format_napi.c", "native/json_columns.c", "native/socket_fd.c"],
         "dependencies": ["kernels_v2", "kernels_v3", "kernels_v4"]}
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {"target_name": "kernels_neon", "type": "static_library", "sources": ["<@(per_isa_sources)"],
         "defines": ["KERNEL_ISA=neon"], "cflags": ["-march=armv8-a", "-fPIC"]},
        {"target_name": "lookup_kernels",
         "sources": ["native/addon.c", "native/batch.c", "native/dispatch.c", "native/napi_util.c",
                      "native/float_format.c", "native/float_format_napi.c", "native/json_columns.c", "native/socket_fd.c"],
         "dependencies": ["kernels_neon"]}
      ]
    }],
    ["target_arch!='x64' and target_arch!='arm64'", {
      "targets": [
        {"target_name": "kernels_generic", "type": "static_library", "sources": ["<@(per_isa_sources)"],
         "defines": ["KERNEL_ISA=generic"], "cflags": ["-fPIC"]},
        {"target_name": "lookup_kernels",
         "sources": ["native/addon.c", "native/batch.c", "native/dispatch.c", "native/napi_util.c",
                      "native/float_format.c", "native/float_format_napi.c", "native/json_columns.c", "native/socket_fd.c"],
         "dependencies": ["kernels_generic"]}
      ]
    }]
  ]
}
