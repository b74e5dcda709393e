#include "crawld/jobs/admission.hpp"

#include <algorithm>
#include <stdexcept>

namespace crawld::jobs {

std::optional<DuplicatePolicy> parse_duplicate_policy(std::string_view text) {
  if (text == "reject") return DuplicatePolicy::reject;
  if (text == "queue") return DuplicatePolicy::queue;
  if (text == "allow") return DuplicatePolicy::allow;
  return std::nullopt;
}

namespace {

DuplicatePolicy policy_of(const JobsConfig& config) {
  auto policy = parse_duplicate_policy(config.on_duplicate);
  if (!policy) throw std::invalid_argument("jobs.on_duplicate: unknown policy \"" + config.on_duplicate + "\"");
  return *policy;
}

}  // namespace

Admission::Admission(const JobsConfig& config) : config_(config), policy_(policy_of(config)) {}

Admission::Verdict Admission::check(const JobParams& params, const std::string& idempotency_key, std::size_t running,
                                    Steady::time_point now) {
  using Kind = Verdict::Kind;
  if (!idempotency_key.empty()) {
    std::erase_if(idempotency_, [&](const auto& item) { return item.second.expires <= now; });
    if (auto it = idempotency_.find(idempotency_key); it != idempotency_.end()) {
      if (!(it->second.params == params)) return {Kind::idempotency_mismatch, {}};
      return {Kind::replay, it->second.job_id};
    }
  }
  auto same = crawls_.find(crawl_key(params));
  bool duplicate = same != crawls_.end() && !same->second.ids.empty();
  if (duplicate && policy_ == DuplicatePolicy::reject) return {Kind::duplicate, same->second.ids.front()};
  bool waits_for_duplicate = duplicate && policy_ == DuplicatePolicy::queue;
  bool starts_now = running < config_.max_running && !waits_for_duplicate && queue_.empty();
  if (!starts_now && queue_.size() >= config_.max_queued) return {Kind::queue_full, {}};
  return {};
}

void Admission::accept(const std::string& id, const JobParams& params, const std::string& idempotency_key,
                       Steady::time_point now) {
  auto key = crawl_key(params);
  auto& same = crawls_[key];
  auto position = same.ids.insert(same.ids.end(), id);
  active_.emplace(id, Active{std::move(key), position, false});
  queue_.push_back(id);
  if (!idempotency_key.empty()) {
    idempotency_[idempotency_key] = {id, params, now + std::chrono::seconds(config_.idempotency_ttl_s)};
  }
}

bool Admission::blocked(const std::string& id) const {
  // The policy "queue" runs one crawl of a kind at a time.
  if (policy_ == DuplicatePolicy::allow) return false;
  return crawls_.at(active_.at(id).key).running > 0;
}

std::optional<std::string> Admission::next(std::size_t running) {
  if (running >= config_.max_running) return std::nullopt;
  auto it = std::find_if(queue_.begin(), queue_.end(), [this](const std::string& id) { return !blocked(id); });
  if (it == queue_.end()) return std::nullopt;
  std::string id = std::move(*it);
  queue_.erase(it);
  auto& active = active_.at(id);
  active.running = true;
  ++crawls_.at(active.key).running;
  return id;
}

void Admission::remove_queued(const std::string& id) { std::erase(queue_, id); }

void Admission::ended(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  auto same = crawls_.find(it->second.key);
  same->second.ids.erase(it->second.position);
  if (it->second.running) --same->second.running;
  if (same->second.ids.empty()) crawls_.erase(same);
  active_.erase(it);
}

std::vector<std::string> Admission::take_queue() {
  std::vector<std::string> ids(queue_.begin(), queue_.end());
  queue_.clear();
  return ids;
}

}  // namespace crawld::jobs
