// Where a frontier keeps the queued URLs that do not fit its memory budget:
// blocks of encoded entries appended to segment files in a folder of the
// crawl's own, each block read back once, in the order its host queued it.
//
// A segment is a file of at most segment_bytes; it is removed once every
// block in it was read back, and the folder (with whatever is left) when the
// spool is destroyed. The folder is made on the first write: a crawl that
// never spills touches no disk. Its name carries the process id, so that a
// process starting later removes what a crashed one left (clean_spool_root).
//
// Blocking file I/O on the calling thread (the loop): blocks are at most a
// few tens of KiB written to and read from the page cache, microseconds
// each, far less than a page's parse.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace crawld::crawl {

class FrontierSpool {
 public:
  struct Block {
    std::uint32_t segment = 0;
    std::uint64_t offset = 0;
    std::uint32_t bytes = 0;
    std::uint32_t count = 0;  // entries in the block
  };

  explicit FrontierSpool(std::filesystem::path dir, std::uint64_t segment_bytes = 64ULL << 20);
  ~FrontierSpool();
  FrontierSpool(const FrontierSpool&) = delete;
  FrontierSpool& operator=(const FrontierSpool&) = delete;

  // Appends a block; throws std::system_error (disk full, folder not
  // writable) and then holds nothing of it.
  Block write(std::string_view data, std::uint32_t count);
  // Reads a block back; it is then forgotten (read each block once). Throws
  // std::system_error (or std::runtime_error for a short read).
  std::string read(const Block& block);

  // Bytes of blocks written and not yet read.
  std::uint64_t live_bytes() const { return live_bytes_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Segment {
    int fd = -1;
    std::uint64_t size = 0;
    std::uint32_t live_blocks = 0;
  };
  std::filesystem::path segment_path(std::uint32_t id) const;
  void open_segment();
  void release(std::uint32_t id);

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_;
  std::map<std::uint32_t, Segment> segments_;
  std::uint32_t current_ = 0;
  bool open_ = false;  // segments_[current_] is open for appending
  std::uint64_t live_bytes_ = 0;
};

// A crawl's spool folder under `root`: "crawl-<pid>-<n>", n counting up in
// this process.
std::filesystem::path spool_dir_for_crawl(const std::filesystem::path& root);
// Removes the crawl folders under `root` that no running process owns (left
// by a crash or a kill -9); returns how many. Never throws.
std::size_t clean_spool_root(const std::filesystem::path& root);

}  // namespace crawld::crawl
