#include "crawld/crawl/links.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace crawld::crawl {
namespace {

// Titles longer than this are spam or broken markup (an unclosed <title>
// swallowing the page); nobody reads past it.
constexpr std::size_t kMaxTitleBytes = 1000;
// Chunks bound how much libxml2 buffers at once; the size hardly matters.
constexpr std::size_t kChunkBytes = std::size_t{64} * 1024;

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

// True when `list` ("noopener NOFOLLOW", "noindex, nofollow") holds `token`
// as a whole word; separators are whitespace and commas.
bool has_token(std::string_view list, std::string_view token) {
  std::size_t pos = 0;
  while (pos < list.size()) {
    while (pos < list.size() && (is_ascii_space(list[pos]) || list[pos] == ',')) ++pos;
    std::size_t end = pos;
    while (end < list.size() && !is_ascii_space(list[end]) && list[end] != ',') ++end;
    if (end > pos && iequals(list.substr(pos, end - pos), token)) return true;
    pos = end;
  }
  return false;
}

std::string_view as_view(const xmlChar* s) {
  return s == nullptr ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(s));
}

// libxml2 lower-cases HTML element and attribute names; values are decoded.
std::optional<std::string_view> attribute(const xmlChar** atts, std::string_view name) {
  if (atts == nullptr) return std::nullopt;
  for (std::size_t i = 0; atts[i] != nullptr; i += 2) {
    if (iequals(as_view(atts[i]), name)) return as_view(atts[i + 1]);
  }
  return std::nullopt;
}

// The URL of a <meta http-equiv="refresh"> content ("5; url='next.html'"),
// read as the HTML standard's declarative refresh does: a delay, then ";"
// or ",", then an optional "url=", then the URL, quoted or not. Nullopt for
// a plain delay (a refresh of the page itself).
std::optional<std::string_view> refresh_url(std::string_view content) {
  auto skip_space = [&content] {
    while (!content.empty() && is_ascii_space(content.front())) content.remove_prefix(1);
  };
  skip_space();
  while (!content.empty() && ((content.front() >= '0' && content.front() <= '9') || content.front() == '.')) {
    content.remove_prefix(1);
  }
  skip_space();
  if (!content.empty() && (content.front() == ';' || content.front() == ',')) content.remove_prefix(1);
  skip_space();
  if (content.size() >= 3 && iequals(content.substr(0, 3), "url")) {
    auto rest = content.substr(3);
    while (!rest.empty() && is_ascii_space(rest.front())) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() == '=') {
      content = rest.substr(1);
      skip_space();
    }
  }
  if (!content.empty() && (content.front() == '\'' || content.front() == '"')) {
    const char quote = content.front();
    content.remove_prefix(1);
    content = content.substr(0, content.find(quote));
  }
  while (!content.empty() && is_ascii_space(content.back())) content.remove_suffix(1);
  if (content.empty()) return std::nullopt;
  return content;
}

// Collapses runs of ASCII whitespace into one space while appending, so the
// title never grows past its cap whatever the page holds.
class TitleBuilder {
 public:
  void append(std::string_view text) {
    for (char c : text) {
      if (text_.size() >= kMaxTitleBytes) return;
      if (is_ascii_space(c)) {
        pending_space_ = !text_.empty();
      } else {
        if (pending_space_) text_ += ' ';
        pending_space_ = false;
        text_ += c;
      }
    }
  }

  // Cut at the cap without splitting a UTF-8 sequence.
  std::string finish() && {
    if (text_.size() > kMaxTitleBytes) text_.resize(kMaxTitleBytes);
    if (text_.size() == kMaxTitleBytes) {
      std::size_t end = text_.size();
      std::size_t lead = end;
      while (lead > 0 && (static_cast<unsigned char>(text_[lead - 1]) & 0xC0) == 0x80) --lead;
      if (lead > 0) {
        const auto c = static_cast<unsigned char>(text_[lead - 1]);
        const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (end - (lead - 1) < length) text_.resize(lead - 1);
      }
    }
    while (!text_.empty() && text_.back() == ' ') text_.pop_back();
    return std::move(text_);
  }

 private:
  std::string text_;
  bool pending_space_ = false;
};

// SAX state: what the callbacks have found so far.
struct Collector {
  std::size_t max_links = 0;
  ExtractedLinks result;
  TitleBuilder title;
  bool in_title = false;
  bool title_done = false;

  void start_element(std::string_view name, const xmlChar** atts) {
    if (name == "a" || name == "area") {
      // rel="nofollow" is the author's wish not to vouch for the target.
      if (const auto rel = attribute(atts, "rel"); rel && has_token(*rel, "nofollow")) return;
      add(attribute(atts, "href"));
    } else if (name == "frame" || name == "iframe") {
      add(attribute(atts, "src"));
    } else if (name == "link") {
      link_element(atts);
    } else if (name == "base") {
      if (result.base_href) return;
      if (const auto href = attribute(atts, "href")) result.base_href.emplace(*href);
    } else if (name == "meta") {
      meta_element(atts);
    } else if (name == "title" && !title_done) {
      in_title = true;
    }
  }

  void add(std::optional<std::string_view> href) {
    if (!href || result.nofollow || result.hrefs.size() >= max_links) return;
    result.hrefs.emplace_back(*href);
  }

  // <link rel="next|prev|alternate"> leads to pages; rel="canonical" names
  // the page's own preferred URL (recorded, not followed).
  void link_element(const xmlChar** atts) {
    const auto rel = attribute(atts, "rel");
    const auto href = attribute(atts, "href");
    if (!rel || !href) return;
    if (has_token(*rel, "canonical") && !result.canonical) result.canonical.emplace(*href);
    if (has_token(*rel, "next") || has_token(*rel, "prev") || has_token(*rel, "alternate")) add(href);
  }

  void meta_element(const xmlChar** atts) {
    if (const auto equiv = attribute(atts, "http-equiv"); equiv && iequals(*equiv, "refresh")) {
      if (const auto content = attribute(atts, "content")) add(refresh_url(*content));
      return;
    }
    const auto meta_name = attribute(atts, "name");
    if (!meta_name || !iequals(*meta_name, "robots")) return;
    const auto content = attribute(atts, "content");
    // "none" is shorthand for "noindex, nofollow".
    if (content && (has_token(*content, "nofollow") || has_token(*content, "none"))) result.nofollow = true;
  }

  void end_element(std::string_view name) {
    if (name == "title" && in_title) {
      in_title = false;
      title_done = true;
    }
  }

  void characters(std::string_view text) {
    if (in_title) title.append(text);
  }
};

Collector& collector(void* ctx) {
  // libxml2 hands the parser context to SAX callbacks; our state is its _private.
  auto* parser = static_cast<htmlParserCtxtPtr>(ctx);
  return *static_cast<Collector*>(parser->_private);
}

void on_start_element(void* ctx, const xmlChar* name, const xmlChar** atts) {
  collector(ctx).start_element(as_view(name), atts);
}

void on_end_element(void* ctx, const xmlChar* name) { collector(ctx).end_element(as_view(name)); }

void on_characters(void* ctx, const xmlChar* text, int length) {
  if (length > 0) collector(ctx).characters(std::string_view(reinterpret_cast<const char*>(text), length));
}

// Silences libxml2's own error printing (HTML_PARSE_NOERROR covers most, not all).
void on_structured_error(void*, xmlErrorPtr) {}

struct ParserDeleter {
  void operator()(htmlParserCtxtPtr ctxt) const {
    if (ctxt->myDoc != nullptr) xmlFreeDoc(ctxt->myDoc);
    htmlFreeParserCtxt(ctxt);
  }
};

}  // namespace

void init_libxml2_once() {
  static std::once_flag once;
  // xmlInitParser is not safe to race; every thread goes through here first.
  std::call_once(once, [] { xmlInitParser(); });
}

ExtractedLinks extract_links(std::string_view html, std::size_t max_links) {
  init_libxml2_once();

  Collector collected;
  collected.max_links = max_links;

  // Only the callbacks we need: with no startDocument/tree callbacks set,
  // libxml2 builds no DOM.
  htmlSAXHandler sax{};
  sax.startElement = on_start_element;
  sax.endElement = on_end_element;
  sax.characters = on_characters;
  sax.ignorableWhitespace = on_characters;
  sax.serror = on_structured_error;

  // UTF-8 unless the page says otherwise in a <meta charset>: libxml2 would
  // otherwise assume Latin-1. Invalid UTF-8 makes it fall back to Latin-1.
  std::unique_ptr<htmlParserCtxt, ParserDeleter> parser(
      htmlCreatePushParserCtxt(&sax, nullptr, nullptr, 0, nullptr, XML_CHAR_ENCODING_UTF8));
  if (!parser) return {};
  // With user_data null libxml2 passes the context itself to callbacks.
  parser->_private = &collected;
  htmlCtxtUseOptions(parser.get(), HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_RECOVER);

  std::size_t offset = 0;
  while (offset < html.size()) {
    const auto size = std::min(kChunkBytes, html.size() - offset);
    htmlParseChunk(parser.get(), html.data() + offset, static_cast<int>(size), 0);
    offset += size;
  }
  htmlParseChunk(parser.get(), nullptr, 0, 1);

  ExtractedLinks result = std::move(collected.result);
  result.title = std::move(collected.title).finish();
  if (result.nofollow) result.hrefs.clear();
  return result;
}

}  // namespace crawld::crawl
