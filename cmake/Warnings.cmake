# STYLE.md §11: the warning set, as errors.
add_compile_options(
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
  -Wswitch-enum -Wundef -Wno-unused-parameter)
add_compile_definitions(_XOPEN_SOURCE=700 _DEFAULT_SOURCE)
