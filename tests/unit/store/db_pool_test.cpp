// The error classifier behind "no row lost": what the writer keeps and
// retries (transient), and what it reports as the data's fault.
#include "store/db_pool.hpp"

#include <catch2/catch.hpp>

using crawld::store::Backoff;
using crawld::store::is_transient;
using crawld::store::short_message;
using namespace std::chrono_literals;

namespace {

pqxx::sql_error sql_error(const std::string& sqlstate) {
  return pqxx::sql_error("ERROR:  something\nDETAIL:  more", "select 1", sqlstate.c_str());
}

}  // namespace

TEST_CASE("connection losses, shutdowns, timeouts and conflicts are transient", "[store]") {
  CHECK(is_transient(pqxx::broken_connection("server closed the connection")));
  CHECK(is_transient(sql_error("08006")));  // connection failure
  CHECK(is_transient(sql_error("57P01")));  // admin shutdown
  CHECK(is_transient(sql_error("57014")));  // query cancelled (statement_timeout, cancel_query)
  CHECK(is_transient(sql_error("40001")));  // serialization failure
  CHECK(is_transient(sql_error("40P01")));  // deadlock
  CHECK(is_transient(sql_error("53300")));  // too many connections
  CHECK(is_transient(sql_error("")));       // no SQLSTATE: the server vanished mid-statement
  CHECK(is_transient(pqxx::in_doubt_error("commit in doubt")));
}

TEST_CASE("what is wrong with the statement or its data is not", "[store]") {
  CHECK_FALSE(is_transient(sql_error("23505")));  // unique violation
  CHECK_FALSE(is_transient(sql_error("23514")));  // check violation
  CHECK_FALSE(is_transient(sql_error("22P02")));  // invalid text representation
  CHECK_FALSE(is_transient(sql_error("42P01")));  // undefined table
  CHECK_FALSE(is_transient(sql_error("54000")));  // program limit exceeded
  CHECK_FALSE(is_transient(pqxx::usage_error("misuse")));
  CHECK_FALSE(is_transient(pqxx::conversion_error("not a number")));
  CHECK_FALSE(is_transient(std::runtime_error("anything else")));
  CHECK_FALSE(is_transient(std::make_exception_ptr(42)));
}

TEST_CASE("short messages are the first line without libpq's prefix", "[store]") {
  CHECK(short_message(sql_error("23505")) == "something");
  CHECK(short_message(std::make_exception_ptr(pqxx::broken_connection("FATAL:  gone\nand more"))) == "gone");
}

TEST_CASE("backoff grows within its cap, with jitter, and starts over after reset", "[store]") {
  Backoff backoff(100ms, 1s);
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(backoff.next());
  for (auto delay : delays) {
    CHECK(delay >= 100ms);
    CHECK(delay <= 1s);
  }
  CHECK(delays[0] == 100ms);  // the first ceiling is the initial delay
  // The ceiling doubles: later delays may reach past the first ones.
  CHECK(*std::max_element(delays.begin() + 4, delays.end()) > 200ms);
  backoff.reset();
  CHECK(backoff.next() == 100ms);
}
