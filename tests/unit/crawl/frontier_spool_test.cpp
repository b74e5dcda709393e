#include "crawld/crawl/frontier.hpp"
#include "crawld/crawl/frontier_spool.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

using namespace crawld::crawl;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("crawld-spool-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}

std::size_t files_in(const fs::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n;
}

FrontierEntry page(const std::string& host, int i, std::uint32_t depth = 1) {
  return {"http://" + host + "/some/longer/path/to/page/" + std::to_string(i), host, depth, std::nullopt};
}

// Hands out everything queued, as the crawl would (one slot at a time).
std::vector<FrontierEntry> drain(Frontier& frontier) {
  std::vector<FrontierEntry> out;
  const auto now = Frontier::clock::now();
  while (frontier.queued() > 0) {
    auto pick = frontier.next(now);
    if (!pick.entry) break;
    frontier.done(pick.entry->host);
    out.push_back(std::move(*pick.entry));
  }
  return out;
}

}  // namespace

TEST_CASE("spool blocks come back as written, and read segments are removed", "[spool]") {
  const auto dir = fresh_dir("blocks");
  {
    FrontierSpool spool(dir, 4096);  // small segments: several of them
    CHECK_FALSE(fs::exists(dir));   // nothing on disk before the first write
    std::vector<std::pair<FrontierSpool::Block, std::string>> blocks;
    for (int i = 0; i < 40; ++i) {
      std::string data(1000 + i, static_cast<char>('a' + i % 26));
      blocks.emplace_back(spool.write(data, static_cast<std::uint32_t>(i + 1)), data);
    }
    CHECK(files_in(dir) >= 10);
    CHECK(spool.live_bytes() > 40'000);
    for (const auto& [block, data] : blocks) {
      CHECK(block.count >= 1);
      CHECK(spool.read(block) == data);
    }
    CHECK(spool.live_bytes() == 0);
    CHECK(files_in(dir) <= 1);  // only the segment still open for appending
  }
  CHECK_FALSE(fs::exists(dir));  // the folder goes with the spool
}

TEST_CASE("a frontier over its memory budget spills to disk and hands everything back in order", "[spool]") {
  const auto dir = fresh_dir("order");
  constexpr int count = 20'000;
  {
    Frontier frontier(1, 0ms, FrontierLimits{64 * 1024, dir, 1024});
    std::uint64_t peak_memory = 0;
    for (int i = 0; i < count; ++i) {
      REQUIRE(frontier.add(page("a", i)));
      peak_memory = std::max(peak_memory, frontier.stats().memory_bytes);
    }
    CHECK_FALSE(frontier.add(page("a", 7)));  // seen, even though spilled
    const auto stats = frontier.stats();
    CHECK(frontier.queued() == count);
    CHECK(stats.spilled > count / 2);
    CHECK(stats.spill_bytes > 0);
    CHECK(stats.seen == count);
    // The budget, plus at most one entry and one block's worth.
    CHECK(peak_memory <= 64 * 1024 + 4096);
    CHECK(files_in(dir) >= 1);

    auto out = drain(frontier);
    REQUIRE(out.size() == count);
    for (int i = 0; i < count; ++i) {
      REQUIRE(out[i].url == page("a", i).url);  // FIFO within the host, across memory and disk
      REQUIRE(out[i].host == "a");
      REQUIRE(out[i].depth == 1);
    }
    CHECK(frontier.stats().spilled == 0);
    CHECK(frontier.stats().spill_bytes == 0);
    CHECK(frontier.stats().memory_bytes == 0);
    CHECK(frontier.take_spill_error().empty());
    CHECK(frontier.lost() == 0);
  }
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("spilled hosts still take turns, and entries keep their redirect origin and sitemap flag", "[spool]") {
  const auto dir = fresh_dir("turns");
  Frontier frontier(1, 0ms, FrontierLimits{64 * 1024, dir, 512});
  for (int i = 0; i < 3000; ++i) {
    for (const char* host : {"a", "b", "c"}) {
      auto entry = page(host, i, static_cast<std::uint32_t>(i % 7));
      if (i % 100 == 99) entry.origin = RedirectOrigin{"http://" + std::string(host) + "/from/" + std::to_string(i), 2, 300};
      entry.sitemap = i % 250 == 3;
      REQUIRE(frontier.add(std::move(entry)));
    }
  }
  REQUIRE(frontier.stats().spilled > 0);
  auto out = drain(frontier);
  REQUIRE(out.size() == 9000);
  std::map<std::string, int> next_index;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const auto& entry = out[k];
    const int i = next_index[entry.host]++;
    REQUIRE(entry.url == page(entry.host, i).url);
    REQUIRE(entry.depth == static_cast<std::uint32_t>(i % 7));
    REQUIRE(entry.sitemap == (i % 250 == 3));
    REQUIRE(entry.origin.has_value() == (i % 100 == 99));
    if (entry.origin) {
      CHECK(entry.origin->url == "http://" + entry.host + "/from/" + std::to_string(i));
      CHECK(entry.origin->redirects == 2);
      CHECK(entry.origin->elapsed_ms == 300);
    }
    if (k >= 3) REQUIRE(entry.host != out[k - 1].host);  // round-robin holds
  }
}

TEST_CASE("a spool that cannot be written keeps every URL in memory and says so once", "[spool]") {
  // A folder under a regular file can never be made.
  const auto blocker = fresh_dir("blocker");
  { std::ofstream(blocker.string()) << "x"; }
  Frontier frontier(1, 0ms, FrontierLimits{64 * 1024, blocker / "spool", 1024});
  for (int i = 0; i < 5000; ++i) REQUIRE(frontier.add(page("a", i)));
  const auto error = frontier.take_spill_error();
  CHECK_THAT(error, Catch::Contains("cannot create") && Catch::Contains("kept in memory"));
  CHECK(frontier.take_spill_error().empty());  // once
  auto out = drain(frontier);
  REQUIRE(out.size() == 5000);
  for (int i = 0; i < 5000; ++i) REQUIRE(out[i].url == page("a", i).url);
  CHECK(frontier.lost() == 0);
  fs::remove(blocker);
}

TEST_CASE("spilled URLs that cannot be read back are counted as lost, and the crawl goes on", "[spool]") {
  const auto dir = fresh_dir("lost");
  Frontier frontier(1, 0ms, FrontierLimits{64 * 1024, dir, 1024});
  for (int i = 0; i < 10'000; ++i) REQUIRE(frontier.add(page("a", i)));
  REQUIRE(frontier.stats().spill_bytes > 0);
  for (const auto& file : fs::directory_iterator(dir)) fs::resize_file(file.path(), 0);  // the disk lost them
  auto out = drain(frontier);
  CHECK(frontier.queued() == 0);
  CHECK(frontier.lost() > 0);
  CHECK(out.size() + frontier.lost() == 10'000);
  CHECK_THAT(frontier.take_spill_error(), Catch::Contains("queued URLs lost"));
}

TEST_CASE("start-up cleaning removes the spool folders of processes that are gone, and only those", "[spool]") {
  const auto root = fresh_dir("root");
  fs::create_directories(root);
  const auto gone = root / "crawl-999999999-0";  // above any pid_max
  const auto alive = root / ("crawl-" + std::to_string(::getppid()) + "-3");
  const auto other = root / "not-a-crawl";
  for (const auto& dir : {gone, alive, other}) {
    fs::create_directories(dir);
    std::ofstream((dir / "segment-0").string()) << "data";
  }
  CHECK(clean_spool_root(root) == 1);
  CHECK_FALSE(fs::exists(gone));
  CHECK(fs::exists(alive));
  CHECK(fs::exists(other));
  CHECK(clean_spool_root(root / "missing") == 0);  // no folder: nothing to do, no throw
  fs::remove_all(root);

  const auto a = spool_dir_for_crawl("/x");
  const auto b = spool_dir_for_crawl("/x");
  CHECK(a != b);
  CHECK_THAT(a.string(), Catch::StartsWith("/x/crawl-" + std::to_string(::getpid()) + "-"));
}
