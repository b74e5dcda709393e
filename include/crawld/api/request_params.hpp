// The parameters of a request outside POST /start's body: the job id in the
// path, and the query's limit, after and status. One parser for each, so
// every route reads them the same way.
//
// Invalid values are 422 with an `errors` list naming each field, as for
// POST /start; 400 is kept for what cannot be parsed at all.
#pragma once

#include "crawld/http/message.hpp"
#include "crawld/http/problem.hpp"
#include "crawld/jobs/job.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace crawld::api {

// The {id} of /jobs/{id}...: a UUID, else 422.
std::string job_id_param(const http::Request& request);

// Reads query parameters, collecting every invalid one; done() throws 422
// naming them all.
class QueryParams {
 public:
  explicit QueryParams(const http::Request& request) : request_(request) {}

  // ?limit=N, 1..max_limit; `default_limit` when absent.
  std::size_t limit(std::size_t default_limit, std::size_t max_limit);
  // ?after=ID, a non-negative integer (an id from a previous page); 0 when absent.
  std::int64_t after();
  // ?status=STATE, a job state; nullopt when absent.
  std::optional<jobs::JobState> status();
  // ?job=ID, a job id (a UUID); empty when absent.
  std::string job();
  void done() const;

 private:
  const http::Request& request_;
  std::vector<http::FieldError> errors_;
};

}  // namespace crawld::api
