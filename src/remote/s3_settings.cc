#include "vrepo/remote/s3_settings.h"

#include <fstream>
#include <sstream>

namespace vrepo {

namespace {

using AwsIniSections = std::map<std::string, std::map<std::string, std::string>>;

std::string TrimAwsIni(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

// The AWS files' INI dialect: [section], key = value, '#' or ';' comments. Indented lines
// under a key with no value are a nested block (`s3 =` then `  endpoint_url = ...`), skipped.
// A missing file is an empty one.
Status ReadAwsIni(const std::string& path, AwsIniSections* sections) {
  std::ifstream in(path);
  if (!in) return Status::OK();
  std::string line;
  std::string section;
  bool in_section = false;
  bool nested = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const std::string text = TrimAwsIni(line);
    if (text.empty() || text[0] == '#' || text[0] == ';') continue;
    const bool indented = line[0] == ' ' || line[0] == '\t';
    if (indented && nested) continue;
    nested = false;
    if (text[0] == '[') {
      if (text.back() != ']' || text.size() < 3) {
        return Status::InvalidArgument(where + "a section header without its closing ']'");
      }
      section = TrimAwsIni(std::string_view(text).substr(1, text.size() - 2));
      in_section = true;
      (*sections)[section];
      continue;
    }
    const size_t equals = text.find('=');
    if (equals == std::string::npos) {
      return Status::InvalidArgument(where + "expected 'key = value' or '[section]'");
    }
    if (!in_section) return Status::InvalidArgument(where + "a setting before any [section]");
    const std::string key = TrimAwsIni(std::string_view(text).substr(0, equals));
    const std::string value = TrimAwsIni(std::string_view(text).substr(equals + 1));
    if (key.empty()) return Status::InvalidArgument(where + "a setting without a name");
    if (value.empty()) {
      nested = true;
      continue;
    }
    (*sections)[section][key] = value;
  }
  return Status::OK();
}

std::string AwsEnv(const std::map<std::string, std::string>& env, const std::string& name) {
  const auto it = env.find(name);
  return it == env.end() ? "" : it->second;
}

std::string AwsSetting(const AwsIniSections& sections, const std::string& section,
                       const std::string& key) {
  const auto s = sections.find(section);
  if (s == sections.end()) return "";
  const auto k = s->second.find(key);
  return k == s->second.end() ? "" : k->second;
}

}  // namespace

Status ParseS3Url(const std::string& url, S3Settings* settings) {
  constexpr std::string_view kScheme = "s3://";
  if (url.rfind(kScheme, 0) != 0) {
    return Status::InvalidArgument("not an S3 URL (s3://BUCKET[/PREFIX]): " + url);
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  // Bucket names are 3-63 of [a-z0-9.-] (older buckets allow upper case and '_').
  const bool bucket_ok =
      bucket.size() >= 3 && bucket.size() <= 63 &&
      bucket.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == std::string::npos;
  if (!bucket_ok) return Status::InvalidArgument("not a valid bucket name in S3 URL " + url);
  if (prefix.find("//") != std::string::npos || (!prefix.empty() && prefix[0] == '/')) {
    return Status::InvalidArgument("an empty path segment in S3 URL " + url);
  }
  settings->bucket = std::move(bucket);
  settings->prefix = std::move(prefix);
  return Status::OK();
}

Status ResolveS3Settings(const std::map<std::string, std::string>& env, const std::string& home,
                         const S3Overrides& overrides, S3Settings* settings) {
  std::string profile = AwsEnv(env, "AWS_PROFILE");
  if (profile.empty()) profile = "default";
  std::string credentials_file = AwsEnv(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (credentials_file.empty()) credentials_file = home + "/.aws/credentials";
  std::string config_file = AwsEnv(env, "AWS_CONFIG_FILE");
  if (config_file.empty()) config_file = home + "/.aws/config";

  AwsIniSections config;
  VREPO_RETURN_IF_ERROR(ReadAwsIni(config_file, &config));
  const std::string config_section = profile == "default" ? "default" : "profile " + profile;

  std::string endpoint = overrides.endpoint.value_or("");
  for (const std::string& candidate :
       {AwsEnv(env, "AWS_ENDPOINT_URL_S3"), AwsEnv(env, "AWS_ENDPOINT_URL"),
        AwsSetting(config, config_section, "endpoint_url")}) {
    if (endpoint.empty()) endpoint = candidate;
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (!endpoint.empty() && endpoint.rfind("http://", 0) != 0 &&
      endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("S3 endpoint is not an http:// or https:// URL: " + endpoint);
  }

  std::string region = overrides.region.value_or("");
  for (const std::string& candidate :
       {AwsEnv(env, "AWS_REGION"), AwsEnv(env, "AWS_DEFAULT_REGION"),
        AwsSetting(config, config_section, "region"), std::string("us-east-1")}) {
    if (region.empty()) region = candidate;
  }

  std::string access_key = AwsEnv(env, "AWS_ACCESS_KEY_ID");
  std::string secret_key = AwsEnv(env, "AWS_SECRET_ACCESS_KEY");
  std::string token = AwsEnv(env, "AWS_SESSION_TOKEN");
  if (access_key.empty() || secret_key.empty()) {
    AwsIniSections credentials;
    VREPO_RETURN_IF_ERROR(ReadAwsIni(credentials_file, &credentials));
    access_key = AwsSetting(credentials, profile, "aws_access_key_id");
    secret_key = AwsSetting(credentials, profile, "aws_secret_access_key");
    token = AwsSetting(credentials, profile, "aws_session_token");
    // The config file may hold credentials too.
    if (access_key.empty() || secret_key.empty()) {
      access_key = AwsSetting(config, config_section, "aws_access_key_id");
      secret_key = AwsSetting(config, config_section, "aws_secret_access_key");
      token = AwsSetting(config, config_section, "aws_session_token");
    }
  }
  if (access_key.empty() || secret_key.empty()) {
    return Status::InvalidArgument(
        "no S3 credentials for bucket " + settings->bucket +
        ": tried AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then profile '" + profile + "' in " +
        credentials_file + " and " + config_file);
  }

  settings->endpoint = endpoint;
  settings->region = region;
  settings->path_style = overrides.path_style.value_or(!endpoint.empty());
  settings->access_key = std::move(access_key);
  settings->secret_key = std::move(secret_key);
  settings->session_token = std::move(token);
  return Status::OK();
}

}  // namespace vrepo
