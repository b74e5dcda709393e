// The API's JSON view of a job, its parameters and lists of jobs.
//
// Written directly into a string, not built as a nlohmann::json tree: POST
// /start renders one job per request. The text is exactly what nlohmann's
// compact dump (error_handler_t::replace) writes for the same document: keys
// in sorted order, the same escapes (util::append_json_string), so a client
// cannot tell the two apart and tests can compare them.
#pragma once

#include "crawld/jobs/job.hpp"

#include <string>
#include <vector>

namespace crawld::api {

void append_params_json(std::string& out, const jobs::JobParams& params);
void append_job_json(std::string& out, const jobs::Job& job);

std::string params_json(const jobs::JobParams& params);
std::string job_json(const jobs::Job& job);
// A JSON array of jobs.
std::string job_list_json(const std::vector<jobs::Job>& jobs);

}  // namespace crawld::api
