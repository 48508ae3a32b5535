# SKIFF_SANITIZE=ON builds everything with ASan + UBSan, stopping at the first report.
if(SKIFF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# SKIFF_FUZZ=ON (the `fuzz` preset): everything gets libFuzzer's coverage instrumentation and
# ASan + UBSan, so that the fuzz targets (fuzz/, linked with -fsanitize=fuzzer) see coverage
# of the libraries they call. Internal DCHECKs are on as well: the fuzzer should trip them.
if(SKIFF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "SKIFF_FUZZ=ON needs clang++ (libFuzzer), but the C++ compiler is "
      "${CMAKE_CXX_COMPILER_ID} (${CMAKE_CXX_COMPILER}). Use `cmake --preset fuzz` or "
      "scripts/fuzz, or pass -DCMAKE_CXX_COMPILER=clang++ in a fresh build directory. "
      "Without SKIFF_FUZZ, any compiler builds skiff_fuzz_replay, which replays the corpus.")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -UNDEBUG)
  add_link_options(-fsanitize=address,undefined)
endif()
