{
  "targets": [
    {
      "target_name": "lookup_kernels",
      "sources": ["native/lookup_kernels.c"],
      "cflags": ["-O3", "-march=native", "-ffp-contract=off", "-fno-fast-math", "-std=c11", "-Wall", "-Wextra"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-ffp-contract=off", "-fno-fast-math"]
      }
    }
  ]
}
