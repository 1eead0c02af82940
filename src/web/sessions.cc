#include "sessions.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <vector>

namespace vrepo::web {

Result<std::string> RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return Status::IOError("the random number generator failed (OpenSSL RAND_bytes)");
  }
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes * 2);
  for (unsigned char c : raw) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> SessionStore::Create(const std::string& token) {
  VREPO_ASSIGN_OR_RETURN(std::string id, RandomHex(32));
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  if (sessions_.size() >= kMaxSessions) {
    std::erase_if(sessions_, [&](const auto& s) { return s.second.second <= now; });
  }
  while (sessions_.size() >= kMaxSessions) {
    // The one ending first is the oldest: every session lives equally long.
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.second < oldest->second.second) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[id] = {token, now + kSessionLifetime};
  return id;
}

std::optional<std::string> SessionStore::TokenOf(const std::string& id) {
  if (id.empty()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.second <= Clock::now()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.first;
}

void SessionStore::End(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  size_t headers = req.get_header_value_count("Cookie");
  for (size_t i = 0; i < headers; ++i) {
    const std::string header = req.get_header_value("Cookie", i);
    std::string_view text = header;
    while (!text.empty()) {
      size_t end = text.find(';');
      std::string_view pair = text.substr(0, end);
      text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return std::string(pair.substr(eq + 1));
      }
    }
  }
  return "";
}

void SetSessionCookie(httplib::Response& res, const std::string& id) {
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + id +
                                   "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                   std::to_string(std::chrono::seconds(kSessionLifetime).count()));
}

void ClearSessionCookie(httplib::Response& res) {
  res.set_header("Set-Cookie",
                 std::string(kSessionCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

}  // namespace vrepo::web
