#include "crawld/store/conninfo.hpp"

#include <catch2/catch.hpp>

using crawld::store::redact_conninfo;
using crawld::store::with_connect_timeout;

TEST_CASE("redact_conninfo hides passwords in URIs", "[store][conninfo]") {
  CHECK(redact_conninfo("postgresql://crawld:s3cret@db.example:5432/crawld") ==
        "postgresql://crawld:***@db.example:5432/crawld");
  CHECK(redact_conninfo("postgres://u:p%40ss@h/db?sslmode=require") == "postgres://u:***@h/db?sslmode=require");
  CHECK(redact_conninfo("postgresql://u@h/db?password=s3cret&sslmode=require") ==
        "postgresql://u@h/db?password=***&sslmode=require");
  CHECK(redact_conninfo("postgresql://crawld@127.0.0.1:5432/crawld") == "postgresql://crawld@127.0.0.1:5432/crawld");
  CHECK(redact_conninfo("postgresql:///crawld?host=/var/run") == "postgresql:///crawld?host=/var/run");
  // An '@' in the path is not credentials.
  CHECK(redact_conninfo("postgresql://h/db@x") == "postgresql://h/db@x");
}

TEST_CASE("redact_conninfo hides passwords in key=value strings", "[store][conninfo]") {
  CHECK(redact_conninfo("host=db user=crawld password=s3cret dbname=crawld") ==
        "host=db user=crawld password=*** dbname=crawld");
  CHECK(redact_conninfo("host=db password = 's3 cr\\'et' dbname=x") == "host=db password = *** dbname=x");
  CHECK(redact_conninfo("host=db dbname=x") == "host=db dbname=x");
  auto redacted = redact_conninfo("password=abc");
  CHECK(redacted.find("abc") == std::string::npos);
}

TEST_CASE("with_connect_timeout adds a timeout unless one is set", "[store][conninfo]") {
  CHECK(with_connect_timeout("postgresql://h/db", 5) == "postgresql://h/db?connect_timeout=5");
  CHECK(with_connect_timeout("postgresql://h/db?sslmode=disable", 5) ==
        "postgresql://h/db?sslmode=disable&connect_timeout=5");
  CHECK(with_connect_timeout("postgresql://h/db?connect_timeout=2", 5) == "postgresql://h/db?connect_timeout=2");
  CHECK(with_connect_timeout("host=h dbname=db", 5) == "host=h dbname=db connect_timeout=5");
}
