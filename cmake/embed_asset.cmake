# Turns the status page into a C++ string compiled into the binary.
file(READ "${IN}" content)
set(body "#include <string_view>\nnamespace crawld::api {\nextern const std::string_view status_page_html;\nconst std::string_view status_page_html = R\"crawld_html(${content})crawld_html\";\n}  // namespace crawld::api\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
