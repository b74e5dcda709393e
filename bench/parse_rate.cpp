// Offline parse rate: pages read from disk, then link extraction and SHA-256
// on a compute pool of N threads, as the crawler does it, with no network.
// FILEs ending in .gz are gzip bodies: each is decoded first, as a page sent
// with Content-Encoding: gzip is.
//
//   crawld_bench_parse THREADS FILE...   prints "pages=N seconds=S pages_per_s=R links=L"
#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/links.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s THREADS FILE...\n", argv[0]);
    return 2;
  }
  int threads = std::atoi(argv[1]);
  std::vector<std::string> pages;
  std::vector<bool> gzipped;
  for (int i = 2; i < argc; ++i) {
    const std::string name = argv[i];
    gzipped.push_back(name.ends_with(".gz"));
    std::ifstream in(argv[i], std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    pages.push_back(text.str());
  }
  std::atomic<std::size_t> links{0};
  auto started = std::chrono::steady_clock::now();
  boost::asio::thread_pool pool(static_cast<std::size_t>(threads));
  for (std::size_t i = 0; i < pages.size(); ++i) {
    boost::asio::post(pool, [&wire = pages[i], gzip = gzipped[i], &links] {
      constexpr std::size_t cap = std::size_t{10} << 20;
      const auto decoded = gzip ? crawld::crawl::decode_body("gzip", wire, false, cap).body : std::string();
      const std::string& page = gzip ? decoded : wire;
      auto extracted = crawld::crawl::extract_links(page);
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      EVP_Digest(page.data(), page.size(), digest, &length, EVP_sha256(), nullptr);
      links += extracted.hrefs.size();
    });
  }
  pool.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("pages=%zu seconds=%.4f pages_per_s=%.1f links=%zu\n", pages.size(), seconds,
              static_cast<double>(pages.size()) / seconds, links.load());
  return 0;
}
