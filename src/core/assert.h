// Checks of internal invariants (DESIGN.md §5.3 (c)). Never used for input validation.
#pragma once

#include <string>

namespace skiff::detail {

/// Prints `what` with its location and aborts. For broken internal invariants only.
[[noreturn]] void assert_fail(const char* file, int line, const char* cond,
                              const std::string& what);

}  // namespace skiff::detail

/// Always on: aborts with context if `cond` is false.
#define SKIFF_ASSERT(cond, what)                                       \
  do {                                                                 \
    if (!(cond)) [[unlikely]] {                                        \
      ::skiff::detail::assert_fail(__FILE__, __LINE__, #cond, (what)); \
    }                                                                  \
  } while (false)

/// Debug builds only.
#ifdef NDEBUG
#define SKIFF_DCHECK(cond, what) \
  do {                           \
  } while (false)
#else
#define SKIFF_DCHECK(cond, what) SKIFF_ASSERT(cond, what)
#endif
