#include "core/assert.h"

#include <cstdio>
#include <cstdlib>

namespace skiff::detail {

void assert_fail(const char* file, int line, const char* cond, const std::string& what) {
  std::fprintf(stderr, "skiff: invariant violated at %s:%d: %s: %s\n", file, line, cond,
               what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace skiff::detail
