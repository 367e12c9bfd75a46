{
  "targets": [
    {
      "target_name": "lookup_kernels",
      "sources": ["native/addon.c", "native/batch.c", "native/kernels.c", "native/kernels_quant.c",
                  "native/napi_util.c", "native/float_format.c", "native/float_format_napi.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-Wall", "-Wextra"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-ffp-contract=off", "-fno-fast-math"]
      }
    }
  ]
}
