#include "crawld/crawl/sitemap.hpp"

#include "crawld/crawl/content_encoding.hpp"
#include "crawld/crawl/links.hpp"

#include <libxml/xmlreader.h>

#include <memory>

namespace crawld::crawl {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view as_view(const xmlChar* s) {
  return s == nullptr ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(s));
}

// One entry more than allowed marks the file truncated.
bool add(Sitemap& out, std::vector<std::string>& list, std::string_view loc, std::size_t max_urls) {
  loc = trim(loc);
  if (loc.empty()) return true;
  if (out.urls.size() + out.sitemaps.size() >= max_urls) {
    out.truncated = true;
    return false;
  }
  list.emplace_back(loc);
  return true;
}

void parse_text(Sitemap& out, std::string_view body, std::size_t max_urls) {
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto end = std::min(body.find_first_of("\r\n", pos), body.size());
    if (!add(out, out.urls, body.substr(pos, end - pos), max_urls)) return;
    pos = end + 1;
  }
}

void ignore_errors(void*, xmlErrorPtr) {}

struct ReaderDeleter {
  void operator()(xmlTextReaderPtr reader) const { xmlFreeTextReader(reader); }
};

// <loc> as a child of <url> or <sitemap>, whatever the namespace prefix.
void parse_xml(Sitemap& out, std::string_view body, std::size_t max_urls) {
  init_libxml2_once();
  std::unique_ptr<xmlTextReader, ReaderDeleter> reader(
      xmlReaderForMemory(body.data(), static_cast<int>(body.size()), nullptr, nullptr,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA));
  if (!reader) {
    out.error = "sitemap: cannot be read";
    return;
  }
  xmlTextReaderSetStructuredErrorHandler(reader.get(), ignore_errors, nullptr);
  std::string entry;  // the element at depth 1: "url" or "sitemap"
  int rc = 0;
  while ((rc = xmlTextReaderRead(reader.get())) == 1) {
    if (xmlTextReaderNodeType(reader.get()) != XML_READER_TYPE_ELEMENT) continue;
    const auto name = as_view(xmlTextReaderConstLocalName(reader.get()));
    const int depth = xmlTextReaderDepth(reader.get());
    if (depth == 1) entry = name;
    if (depth != 2 || name != "loc" || (entry != "url" && entry != "sitemap")) continue;
    const std::unique_ptr<xmlChar, void (*)(void*)> text(xmlTextReaderReadString(reader.get()), xmlFree);
    if (!add(out, entry == "url" ? out.urls : out.sitemaps, as_view(text.get()), max_urls)) return;
  }
  if (rc < 0 && out.urls.empty() && out.sitemaps.empty()) out.error = "sitemap: not well-formed XML";
}

}  // namespace

Sitemap parse_sitemap(std::string_view body, std::size_t max_urls) {
  Sitemap out;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  const auto start = trim(body);
  if (start.empty()) {
    out.error = "sitemap: empty";
  } else if (start.front() == '<') {
    parse_xml(out, body, max_urls);
  } else {
    parse_text(out, start, max_urls);
  }
  return out;
}

Sitemap read_sitemap(WireBody wire, std::size_t max_bytes, std::size_t max_urls) {
  auto decoded = decode_body(wire.encoding, std::move(wire.data), wire.truncated, max_bytes);
  if (decoded.error.empty() && decoded.body.size() >= 2 && decoded.body[0] == '\x1f' && decoded.body[1] == '\x8b') {
    decoded = decode_body("gzip", std::move(decoded.body), decoded.truncated, max_bytes);
  }
  if (!decoded.error.empty()) {
    Sitemap out;
    out.error = "sitemap: " + decoded.error;
    return out;
  }
  auto out = parse_sitemap(decoded.body, max_urls);
  out.truncated = out.truncated || decoded.truncated;
  return out;
}

}  // namespace crawld::crawl
