#include "crawld/crawl/page_analysis.hpp"

#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/links.hpp"
#include "crawld/crawl/url.hpp"
#include "url_text.hpp"

#include <openssl/evp.h>

namespace crawld::crawl {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xF]);
  }
  return out;
}

PageAnalysis analyze_page(std::string_view body, const AnalysisRequest& request) {
  PageAnalysis analysis;
  analysis.sha256 = sha256_hex(body);
  if (!request.html) return analysis;
  auto extracted = extract_links(body);
  analysis.title = std::move(extracted.title);
  std::string base = request.page_url;
  if (extracted.base_href) {
    if (auto resolved = resolve_url(request.page_url, *extracted.base_href)) base = std::move(*resolved);
  }
  if (extracted.canonical) analysis.canonical = resolve_url(base, *extracted.canonical).value_or("");
  if (!request.want_links || extracted.nofollow) return analysis;
  for (const auto& href : extracted.hrefs) {
    auto url = resolve_url(base, href);
    if (!url) {
      // mailto:, tel: and the like were never meant for a crawler.
      if (url_text::web_reference(href)) ++analysis.links_dropped;
      continue;
    }
    auto key = url_key(*url);
    if (!key || request.allowed_hosts == nullptr || !request.allowed_hosts->contains(key->host)) continue;
    analysis.links.push_back({std::move(*url), std::move(key->host), request.depth, std::nullopt});
  }
  return analysis;
}

PageAnalysis analyze_response(WireBody wire, std::size_t cap, const AnalysisRequest& request) {
  auto decoded = decode_body(wire.encoding, std::move(wire.data), wire.truncated, cap);
  PageAnalysis analysis;
  if (decoded.error.empty()) analysis = analyze_page(decoded.body, request);
  analysis.bytes = decoded.body.size();
  analysis.truncated = decoded.truncated;
  analysis.error = std::move(decoded.error);
  return analysis;
}

}  // namespace crawld::crawl
