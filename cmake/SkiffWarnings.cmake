# skiff_set_warnings(target): the project's warning flags, PRIVATE so they never reach users.
function(skiff_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
    -Wno-missing-field-initializers)  # designated initializers rely on member defaults
  if(SKIFF_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
