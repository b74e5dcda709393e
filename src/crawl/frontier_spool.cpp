#include "crawld/crawl/frontier_spool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <system_error>

namespace crawld::crawl {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

FrontierSpool::FrontierSpool(fs::path dir, std::uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

FrontierSpool::~FrontierSpool() {
  for (auto& [id, segment] : segments_) {
    if (segment.fd >= 0) ::close(segment.fd);
  }
  std::error_code ignored;
  if (!segments_.empty() || fs::exists(dir_, ignored)) fs::remove_all(dir_, ignored);
}

fs::path FrontierSpool::segment_path(std::uint32_t id) const { return dir_ / ("segment-" + std::to_string(id)); }

void FrontierSpool::open_segment() {
  if (segments_.empty()) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::system_error(ec, "frontier spool: cannot create " + dir_.string());
  }
  const std::uint32_t id = segments_.empty() ? 0 : segments_.rbegin()->first + 1;
  const auto path = segment_path(id);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("frontier spool: cannot create " + path.string());
  segments_[id] = Segment{fd, 0, 0};
  current_ = id;
  open_ = true;
}

FrontierSpool::Block FrontierSpool::write(std::string_view data, std::uint32_t count) {
  if (!open_ || segments_[current_].size + data.size() > segment_bytes_) {
    if (open_) {
      open_ = false;
      if (segments_[current_].live_blocks == 0) release(current_);
    }
    open_segment();
  }
  auto& segment = segments_[current_];
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::pwrite(segment.fd, data.data() + done, data.size() - done,
                            static_cast<off_t>(segment.size + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Whatever part was written stays unused: the next block goes after it.
      segment.size += done;
      throw_errno("frontier spool: cannot write " + segment_path(current_).string());
    }
    done += static_cast<std::size_t>(n);
  }
  Block block{current_, segment.size, static_cast<std::uint32_t>(data.size()), count};
  segment.size += data.size();
  ++segment.live_blocks;
  live_bytes_ += data.size();
  return block;
}

std::string FrontierSpool::read(const Block& block) {
  auto it = segments_.find(block.segment);
  if (it == segments_.end()) throw std::runtime_error("frontier spool: block of an unknown segment");
  // Forgotten whatever happens next: a block that cannot be read is lost,
  // and the caller says so.
  struct Forget {
    FrontierSpool& spool;
    const Block& block;
    ~Forget() {
      spool.live_bytes_ -= block.bytes;
      auto& segment = spool.segments_[block.segment];
      if (--segment.live_blocks == 0 && !(spool.open_ && spool.current_ == block.segment)) spool.release(block.segment);
    }
  } forget{*this, block};
  std::string data(block.bytes, '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::pread(it->second.fd, data.data() + done, data.size() - done,
                           static_cast<off_t>(block.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("frontier spool: cannot read " + segment_path(block.segment).string());
    if (n == 0) throw std::runtime_error("frontier spool: " + segment_path(block.segment).string() + " is shorter than written");
    done += static_cast<std::size_t>(n);
  }
  return data;
}

void FrontierSpool::release(std::uint32_t id) {
  auto it = segments_.find(id);
  if (it == segments_.end()) return;
  if (it->second.fd >= 0) ::close(it->second.fd);
  std::error_code ignored;
  fs::remove(segment_path(id), ignored);
  segments_.erase(it);
}

fs::path spool_dir_for_crawl(const fs::path& root) {
  static std::atomic<std::uint64_t> next{0};
  static const std::string prefix = "crawl-" + std::to_string(::getpid()) + "-";
  return root / (prefix + std::to_string(next++));
}

std::size_t clean_spool_root(const fs::path& root) {
  std::size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.starts_with("crawl-")) continue;
    const auto dash = name.find('-', 6);
    if (dash == std::string::npos) continue;
    int pid = 0;
    const auto [ptr, err] = std::from_chars(name.data() + 6, name.data() + dash, pid);
    if (err != std::errc() || ptr != name.data() + dash || pid <= 0) continue;
    // Ours from an earlier process with the same id, or a process that is gone.
    const bool owned = pid != ::getpid() && (::kill(pid, 0) == 0 || errno == EPERM);
    if (owned) continue;
    std::error_code ignored;
    if (fs::remove_all(it->path(), ignored) > 0) ++removed;
  }
  return removed;
}

}  // namespace crawld::crawl
