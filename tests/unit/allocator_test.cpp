// The release build replaces malloc and operator new with mimalloc
// (CMakeLists.txt, CRAWLD_ALLOCATOR). Sanitizer builds keep the system one.
#include <catch2/catch.hpp>

#ifdef CRAWLD_MIMALLOC
#include <mimalloc.h>

#include <cstdlib>
#include <memory>
#include <string>

TEST_CASE("malloc and operator new are served by mimalloc", "[allocator]") {
  // Linked but not in use would leave these in glibc's heap.
  auto object = std::make_unique<int>(42);
  std::string text(100'000, 'x');
  void* raw = std::malloc(64);
  CHECK(mi_is_in_heap_region(object.get()));
  CHECK(mi_is_in_heap_region(text.data()));
  CHECK(mi_is_in_heap_region(raw));
  std::free(raw);
  CHECK(mi_version() >= 200);
}
#endif
