// Browser sessions of the web view: a random 256-bit id (the `vrepo_session` cookie) mapped to
// the token that logged in, for 12 hours. Thread-safe.
#pragma once

#include <httplib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "vrepo/util/status.h"

namespace vrepo::web {

inline constexpr const char* kSessionCookie = "vrepo_session";
inline constexpr std::chrono::hours kSessionLifetime{12};

// `bytes` random bytes from OpenSSL's generator as lowercase hex. IOError when it fails.
Result<std::string> RandomHex(size_t bytes);
// Compares secrets in time that does not depend on where they differ.
bool SameSecret(const std::string& a, const std::string& b);

class SessionStore {
 public:
  // A new session for `token`; returns its id. The oldest sessions go past `max_sessions`.
  Result<std::string> Create(const std::string& token);
  // The token of a live session; nullopt for an unknown or expired id.
  std::optional<std::string> TokenOf(const std::string& id);
  void End(const std::string& id);

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxSessions = 10000;
  std::mutex mu_;
  std::map<std::string, std::pair<std::string, Clock::time_point>> sessions_;  // id -> token, end
};

// The value of cookie `name` in the request's Cookie headers ("" when absent).
std::string CookieValue(const httplib::Request& req, const std::string& name);
// Set-Cookie for a session id: HttpOnly, SameSite=Strict, Path=/, 12 hours.
void SetSessionCookie(httplib::Response& res, const std::string& id);
void ClearSessionCookie(httplib::Response& res);

}  // namespace vrepo::web
