#include "crawld/crawl/redirects.hpp"

#include <catch2/catch.hpp>

using namespace crawld::crawl;
using Action = RedirectDecision::Action;

TEST_CASE("redirects: refused off the allowed hosts, handed back across hosts, followed on the same host", "[crawl]") {
  std::set<std::string> allowed{"a.test", "b.test"};
  auto elsewhere = decide_redirect("a.test", "http://evil.test/x", allowed, true);
  CHECK(elsewhere.action == Action::refuse);
  CHECK(elsewhere.reason == "host evil.test is not allowed");
  CHECK(decide_redirect("a.test", "not a url", allowed, true).action == Action::refuse);
  CHECK(decide_redirect("a.test", "not a url", allowed, true).reason == "invalid URL");

  auto across = decide_redirect("a.test", "http://b.test/page", allowed, true);
  CHECK(across.action == Action::hand_back);
  CHECK(across.host == "b.test");

  auto same = decide_redirect("a.test", "http://a.test/moved?q=1", allowed, true);
  CHECK(same.action == Action::check_robots);
  CHECK(same.host == "a.test");
  CHECK(same.target == "/moved?q=1");
  CHECK(decide_redirect("a.test", "http://a.test/moved", allowed, false).action == Action::follow);
}
